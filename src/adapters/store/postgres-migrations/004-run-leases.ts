/**
 * Leases on runs: which replica drives a run, and until when. A replica
 * renews its leases while it works; when it dies they run out and another
 * replica claims the run (FOR UPDATE SKIP LOCKED, so claimers never wait on
 * each other). Kept in a table of their own so a heartbeat never rewrites a
 * run row.
 */
export const sql = `
CREATE TABLE run_leases (
  run_id     text COLLATE "C" PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  owner      text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX run_leases_by_owner ON run_leases (owner);
`
