/**
 * Index (sidecar) files of inbound batches: a run keeps one summary per batch
 * folder that came with an index (its rows, files missing or not in it, the
 * result file written beside it) with the run, as its notes are kept.
 */
export const sql = `
ALTER TABLE runs ADD COLUMN batches jsonb NOT NULL DEFAULT '[]'::jsonb;
`
