/**
 * Versions of inbound files (`existing: version`): a file dropped again with
 * the bytes S-Drive already holds makes no new version. The bridge knows the
 * SHA-256 of every file it uploaded, by S-Drive file id: from the item while
 * it exists (the partial index finds it), then from the ledger row that keeps
 * the item's outcome after retention pruned the run.
 */
export const sql = `
CREATE INDEX items_sdrive_file_id ON items (sdrive_file_id) WHERE sdrive_file_id IS NOT NULL;
ALTER TABLE ledger ADD COLUMN sdrive_file_id TEXT;
ALTER TABLE ledger ADD COLUMN sha256 TEXT;
CREATE INDEX ledger_sdrive_file_id ON ledger (sdrive_file_id) WHERE sdrive_file_id IS NOT NULL;
`
