/**
 * A run state of its own for an export that found no S-Drive file to send
 * (`nothing_to_export`), so it no longer ends `succeeded` as if something had
 * been delivered.
 *
 * SQLite cannot change a CHECK constraint in place, so runs is rebuilt as in
 * 002 (the runner applies this with foreign keys off and checks them before
 * it commits; ids are copied unchanged, so items, idempotency and run_leases
 * still point at their runs). The indexes go with the old table and are
 * created again.
 */
export const sql = `
CREATE TABLE runs_new (
  id              TEXT PRIMARY KEY,
  flow            TEXT NOT NULL,
  state           TEXT NOT NULL
                  CHECK (state IN ('waiting_for_window', 'queued', 'running', 'succeeded', 'partially_failed',
                                   'failed', 'cancelled', 'nothing_to_export')),
  trigger         TEXT NOT NULL CHECK (trigger IN ('api', 'schedule', 'retry', 'startup', 'outbound-message')),
  idempotency_key TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  started_at      TEXT,
  finished_at     TEXT,
  notes           TEXT NOT NULL DEFAULT '[]',
  error           TEXT,
  request         TEXT CHECK (request IS NULL OR json_valid(request)),
  not_before      TEXT
);
INSERT INTO runs_new (id, flow, state, trigger, idempotency_key, created_at, updated_at, started_at,
                      finished_at, notes, error, request, not_before)
SELECT id, flow, state, trigger, idempotency_key, created_at, updated_at, started_at, finished_at, notes, error,
       request, not_before
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_flow_created ON runs (flow, created_at DESC, id DESC);
CREATE INDEX runs_by_state_created ON runs (state, created_at DESC, id DESC);
`
