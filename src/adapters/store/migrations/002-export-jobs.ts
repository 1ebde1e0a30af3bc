/**
 * Export jobs: a run may wait for its flow's delivery window, remembers what
 * was asked for, and may be started by an outbound message.
 *
 * SQLite cannot change a CHECK constraint in place, so runs is rebuilt
 * (create the new table, copy, drop, rename). The runner applies this with
 * foreign keys off, so dropping the old table does not cascade into items and
 * idempotency, and checks every foreign key before it commits. The ids are
 * copied unchanged, so the references from items and idempotency still hold.
 *
 * The indexes go with the old table and are created again. No index is added
 * for findRuns(['waiting_for_window']): runs_by_state_created already answers
 * it with one seek in created_at order (SQLite turns a one-value IN into =),
 * and the planner prefers it to a partial index on waiting jobs (checked
 * with EXPLAIN QUERY PLAN), so such an index would only cost writes.
 */
export const sql = `
CREATE TABLE runs_new (
  id              TEXT PRIMARY KEY,
  flow            TEXT NOT NULL,
  state           TEXT NOT NULL
                  CHECK (state IN ('waiting_for_window', 'queued', 'running', 'succeeded', 'partially_failed',
                                   'failed', 'cancelled')),
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
                      finished_at, notes, error)
SELECT id, flow, state, trigger, idempotency_key, created_at, updated_at, started_at, finished_at, notes, error
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_flow_created ON runs (flow, created_at DESC, id DESC);
CREATE INDEX runs_by_state_created ON runs (state, created_at DESC, id DESC);
`
