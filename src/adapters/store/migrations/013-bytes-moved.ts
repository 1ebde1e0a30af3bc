/**
 * Resumable transfers: per item, the bytes moved over the wire to or from
 * the remote server in every attempt (re-sent bytes included) and the
 * continuations made after cut connections.
 */
export const sql = `
ALTER TABLE items ADD COLUMN bytes_moved INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN resumes INTEGER NOT NULL DEFAULT 0;
`
