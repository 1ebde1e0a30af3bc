/**
 * The notification outbox: one row per message and channel, written in the
 * same transaction as the event it reports (a run's terminal state, a
 * rejection) and delivered by the worker. The dedupe key makes writing the
 * same event twice (a retry, a second replica) a no-op; the lease columns
 * let a worker that died leave its messages to another.
 */
export const sql = `
CREATE TABLE outbox (
  id              TEXT PRIMARY KEY,
  dedupe_key      TEXT NOT NULL UNIQUE,
  channel         TEXT NOT NULL,
  event           TEXT NOT NULL,
  flow            TEXT,
  run_id          TEXT,
  body            TEXT NOT NULL CHECK (json_valid(body)),
  state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  lease_owner     TEXT,
  lease_until     TEXT,
  last_error      TEXT CHECK (last_error IS NULL OR json_valid(last_error)),
  created_at      TEXT NOT NULL,
  sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox (channel, state, next_attempt_at);
CREATE INDEX outbox_listing ON outbox (created_at, id);
`
