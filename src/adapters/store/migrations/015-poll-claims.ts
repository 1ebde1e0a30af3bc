/**
 * The polling trigger: one poller per flow at a time (poll_leases), and the
 * records being claimed in Salesforce whose jobs may not exist yet
 * (poll_claims; a row lives from just before the claim until the job is
 * stored, so a crash in between is finished by the next poller).
 */
export const sql = `
CREATE TABLE poll_leases (
  flow       TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE TABLE poll_claims (
  flow       TEXT NOT NULL,
  record_id  TEXT NOT NULL,
  stamp      TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (flow, record_id)
);
CREATE INDEX poll_claims_by_age ON poll_claims (flow, created_at);
`
