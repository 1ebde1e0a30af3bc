/**
 * Runs, their items, the exactly-once ledger and idempotency keys: the same
 * tables as the SQLite schema, in PostgreSQL types. The runner applies this
 * with search_path set to the store's schema, so no name here is qualified.
 *
 * The ledger's PRIMARY KEY on ledger_key is what makes a file processed once:
 * two replicas claiming the same key cannot both commit. The idempotency
 * table's PRIMARY KEY does the same for Idempotency-Key. Their foreign keys
 * are DEFERRABLE so a claim can be inserted before what it points at, in the
 * same transaction (claim first, create only if the claim succeeded).
 *
 * Ids and ledger keys use the "C" collation: ids are compared and sorted as
 * bytes (their time prefix must order them), whatever the database locale.
 */
export const sql = `
CREATE TABLE runs (
  id              text COLLATE "C" PRIMARY KEY,
  flow            text NOT NULL,
  state           text NOT NULL
                  CHECK (state IN ('queued', 'running', 'succeeded', 'partially_failed', 'failed', 'cancelled')),
  trigger         text NOT NULL CHECK (trigger IN ('api', 'schedule', 'retry', 'startup')),
  idempotency_key text,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  started_at      timestamptz,
  finished_at     timestamptz,
  notes           jsonb NOT NULL DEFAULT '[]',
  error           jsonb
);
CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_flow_created ON runs (flow, created_at DESC, id DESC);
CREATE INDEX runs_by_state_created ON runs (state, created_at DESC, id DESC);

CREATE TABLE idempotency (
  key          text PRIMARY KEY,
  run_id       text COLLATE "C" NOT NULL
               REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  request_hash text,
  created_at   timestamptz NOT NULL
);

CREATE TABLE items (
  id                text COLLATE "C" PRIMARY KEY,
  run_id            text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  flow              text NOT NULL,
  endpoint          text NOT NULL,
  path              text NOT NULL,
  name              text NOT NULL,
  size              bigint NOT NULL,
  modified_at       bigint NOT NULL,
  ledger_key        text COLLATE "C" NOT NULL,
  state             text NOT NULL
                    CHECK (state IN ('pending', 'transferring', 'finalizing', 'done', 'failed', 'skipped')),
  attempts          integer NOT NULL DEFAULT 0,
  next_attempt_at   timestamptz,
  target            jsonb,
  wip_file_id       text,
  sdrive_file_id    text,
  sha256            text,
  bytes_transferred bigint NOT NULL DEFAULT 0,
  final_path        text,
  error             jsonb,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE INDEX items_by_run ON items (run_id, id);
CREATE INDEX items_by_state ON items (state, created_at, id);

CREATE TABLE ledger (
  ledger_key text COLLATE "C" PRIMARY KEY,
  item_id    text COLLATE "C" NOT NULL UNIQUE
             REFERENCES items (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  claimed_at timestamptz NOT NULL
);
`
