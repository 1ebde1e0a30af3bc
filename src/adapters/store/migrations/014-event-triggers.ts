/**
 * Jobs triggered without an inbound call (issue 16): a Pub/Sub subscription
 * ('pubsub') or a polling query ('poll') starts export jobs, so runs accept
 * those triggers; where a subscription stands (its last replay id) is kept in
 * trigger_checkpoints, written in the transaction that stores the job it led
 * to; trigger_leases says which process subscribes to a topic, until when.
 *
 * SQLite cannot change a CHECK constraint in place, so runs is rebuilt as in
 * 006 (foreign keys off while it runs, checked before commit; ids unchanged),
 * with the columns added since (batches) and every index created again.
 */
export const sql = `
CREATE TABLE runs_new (
  id              TEXT PRIMARY KEY,
  flow            TEXT NOT NULL,
  state           TEXT NOT NULL
                  CHECK (state IN ('waiting_for_window', 'queued', 'running', 'succeeded', 'partially_failed',
                                   'failed', 'cancelled', 'nothing_to_export')),
  trigger         TEXT NOT NULL
                  CHECK (trigger IN ('api', 'schedule', 'retry', 'startup', 'outbound-message', 'pubsub', 'poll')),
  idempotency_key TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  started_at      TEXT,
  finished_at     TEXT,
  notes           TEXT NOT NULL DEFAULT '[]',
  error           TEXT,
  request         TEXT CHECK (request IS NULL OR json_valid(request)),
  not_before      TEXT,
  batches         TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO runs_new (id, flow, state, trigger, idempotency_key, created_at, updated_at, started_at,
                      finished_at, notes, error, request, not_before, batches)
SELECT id, flow, state, trigger, idempotency_key, created_at, updated_at, started_at, finished_at, notes, error,
       request, not_before, batches
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_flow_created ON runs (flow, created_at DESC, id DESC);
CREATE INDEX runs_by_state_created ON runs (state, created_at DESC, id DESC);
CREATE INDEX runs_by_flow_state_created ON runs (flow, state, created_at DESC, id DESC);

CREATE TABLE trigger_checkpoints (
  stream     TEXT PRIMARY KEY,
  position   TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE trigger_leases (
  name       TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
`
