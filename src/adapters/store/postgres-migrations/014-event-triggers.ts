/**
 * Jobs triggered without an inbound call (issue 16): a Pub/Sub subscription
 * ('pubsub') or a polling query ('poll') starts export jobs, so runs accept
 * those triggers; where a subscription stands (its last replay id) is kept in
 * trigger_checkpoints, written in the transaction that stores the job it led
 * to; trigger_leases says which replica subscribes to a topic, until when.
 */
export const sql = `
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check
  CHECK (trigger IN ('api', 'schedule', 'retry', 'startup', 'outbound-message', 'pubsub', 'poll'));
CREATE TABLE trigger_checkpoints (
  stream     text COLLATE "C" PRIMARY KEY,
  position   text NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE trigger_leases (
  name       text COLLATE "C" PRIMARY KEY,
  owner      text NOT NULL,
  expires_at timestamptz NOT NULL
);
`
