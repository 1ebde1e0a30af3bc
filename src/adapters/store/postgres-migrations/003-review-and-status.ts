/**
 * The review loop and status files: a rejection is a review row keyed by its
 * correlation id (one per flow and S-Drive file), and an item may carry what
 * a status file did row by row. Fields that are never filtered on live in
 * the data JSONB, so adding one later needs no migration.
 */
export const sql = `
ALTER TABLE items ADD COLUMN detail jsonb;
CREATE TABLE reviews (
  correlation_id text PRIMARY KEY,
  flow           text NOT NULL,
  file_id        text NOT NULL,
  state          text NOT NULL CHECK (state IN ('rejecting', 'rejected', 'resubmitted', 'failed')),
  original_name  text NOT NULL,
  returned_name  text NOT NULL,
  data           jsonb NOT NULL,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  UNIQUE (flow, file_id)
);
CREATE INDEX reviews_by_flow_state ON reviews (flow, state, created_at);
CREATE INDEX reviews_by_returned_name ON reviews (flow, returned_name);
CREATE INDEX reviews_by_original_name ON reviews (flow, original_name);
`
