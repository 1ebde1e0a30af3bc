/**
 * Runs, their items, the exactly-once ledger and idempotency keys.
 *
 * The ledger's PRIMARY KEY on ledger_key is what makes a file processed once:
 * two writers claiming the same key cannot both commit. Its foreign key to
 * items is DEFERRABLE so a claim can be inserted before its item in the same
 * transaction (claim first, and only create the item if the claim succeeded).
 */
export const sql = `
CREATE TABLE runs (
  id              TEXT PRIMARY KEY,
  flow            TEXT NOT NULL,
  state           TEXT NOT NULL
                  CHECK (state IN ('queued', 'running', 'succeeded', 'partially_failed', 'failed', 'cancelled')),
  trigger         TEXT NOT NULL CHECK (trigger IN ('api', 'schedule', 'retry', 'startup')),
  idempotency_key TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  started_at      TEXT,
  finished_at     TEXT,
  notes           TEXT NOT NULL DEFAULT '[]',
  error           TEXT
);
CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_flow_created ON runs (flow, created_at DESC, id DESC);
CREATE INDEX runs_by_state_created ON runs (state, created_at DESC, id DESC);

CREATE TABLE idempotency (
  key          TEXT PRIMARY KEY,
  run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  request_hash TEXT,
  created_at   TEXT NOT NULL
);

CREATE TABLE items (
  id                TEXT PRIMARY KEY,
  run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  flow              TEXT NOT NULL,
  endpoint          TEXT NOT NULL,
  path              TEXT NOT NULL,
  name              TEXT NOT NULL,
  size              INTEGER NOT NULL,
  modified_at       INTEGER NOT NULL,
  ledger_key        TEXT NOT NULL,
  state             TEXT NOT NULL
                    CHECK (state IN ('pending', 'transferring', 'finalizing', 'done', 'failed', 'skipped')),
  attempts          INTEGER NOT NULL DEFAULT 0,
  next_attempt_at   TEXT,
  target            TEXT,
  wip_file_id       TEXT,
  sdrive_file_id    TEXT,
  sha256            TEXT,
  bytes_transferred INTEGER NOT NULL DEFAULT 0,
  final_path        TEXT,
  error             TEXT,
  created_at        TEXT NOT NULL,
  updated_at        TEXT NOT NULL
);
CREATE INDEX items_by_run ON items (run_id, id);
CREATE INDEX items_by_state ON items (state, created_at, id);

CREATE TABLE ledger (
  ledger_key TEXT PRIMARY KEY,
  item_id    TEXT NOT NULL UNIQUE REFERENCES items (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  claimed_at TEXT NOT NULL
);
`
