/**
 * The review loop and status files: a rejection is a review row keyed by its
 * correlation id (one per flow and S-Drive file), and an item may carry what
 * a status file did row by row. Fields that are never filtered on live in
 * the data JSON, so adding one later needs no migration.
 */
export const sql = `
ALTER TABLE items ADD COLUMN detail TEXT CHECK (detail IS NULL OR json_valid(detail));
CREATE TABLE reviews (
  correlation_id TEXT PRIMARY KEY,
  flow           TEXT NOT NULL,
  file_id        TEXT NOT NULL,
  state          TEXT NOT NULL CHECK (state IN ('rejecting', 'rejected', 'resubmitted', 'failed')),
  original_name  TEXT NOT NULL,
  returned_name  TEXT NOT NULL,
  data           TEXT NOT NULL CHECK (json_valid(data)),
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  UNIQUE (flow, file_id)
);
CREATE INDEX reviews_by_flow_state ON reviews (flow, state, created_at);
CREATE INDEX reviews_by_returned_name ON reviews (flow, returned_name);
CREATE INDEX reviews_by_original_name ON reviews (flow, original_name);
`
