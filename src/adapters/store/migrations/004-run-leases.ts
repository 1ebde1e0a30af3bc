/**
 * Leases on runs: which process drives a run, and until when. A process
 * renews its leases while it works; when it dies they run out and another
 * process claims the run. Kept in a table of their own so a heartbeat never
 * rewrites a run row (updated_at keeps meaning "the run changed").
 */
export const sql = `
CREATE TABLE run_leases (
  run_id     TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  owner      TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE INDEX run_leases_by_owner ON run_leases (owner);
`
