/**
 * The notification outbox: one row per message and channel, written in the
 * same transaction as the event it reports (a run's terminal state, a
 * rejection) and delivered by the worker. The dedupe key makes writing the
 * same event twice (a retry, a second replica) a no-op; the lease columns
 * let a worker that died leave its messages to another.
 */
export const sql = `
CREATE TABLE outbox (
  id              text PRIMARY KEY,
  dedupe_key      text NOT NULL UNIQUE,
  channel         text NOT NULL,
  event           text NOT NULL,
  flow            text,
  run_id          text,
  body            jsonb NOT NULL,
  state           text NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  lease_owner     text,
  lease_until     timestamptz,
  last_error      jsonb,
  created_at      timestamptz NOT NULL,
  sent_at         timestamptz
);
CREATE INDEX outbox_due ON outbox (channel, state, next_attempt_at);
CREATE INDEX outbox_listing ON outbox (created_at, id);
`
