/**
 * The operator console (/console): server-side sessions, so that every
 * replica on one database knows a signed-in operator (only the SHA-256 of
 * the session id is stored), and the indexes its pages page on:
 * - runs filtered by flow and state together, newest first;
 * - a run's items filtered by state, in id order (the run page);
 * - file outcomes by time with their flow and state in the index itself,
 *   so the overview's files-per-hour chart counts without reading items.
 */
export const sql = `
CREATE TABLE console_sessions (
  id_hash      TEXT PRIMARY KEY,
  created_at   TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  expires_at   TEXT NOT NULL
);
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_at);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
CREATE INDEX runs_by_flow_state_created ON runs (flow, state, created_at DESC, id DESC);
CREATE INDEX items_by_run_state ON items (run_id, state, id);
CREATE INDEX items_outcomes_by_flow ON items (updated_at, flow, state) WHERE state IN ('done', 'skipped', 'failed');
`
