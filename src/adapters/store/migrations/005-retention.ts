/**
 * Retention: finished runs and their items are pruned, the exactly-once
 * ledger is not. A ledger row used to vanish with its item (ON DELETE
 * CASCADE), which would let a file processed a year ago be taken again once
 * its run was pruned. So the ledger no longer references items: a row
 * outlives its item and keeps, in two compact columns, what readers need
 * once the item is gone — its final state and the record it went to.
 *
 * SQLite cannot drop a foreign key in place, so the ledger is rebuilt
 * (create, copy, drop, rename) with foreign keys off, like 002.
 *
 * idempotency_by_run: deleting a run cascades into idempotency, and without
 * an index on run_id every deleted run would scan the whole table.
 */
export const sql = `
CREATE TABLE ledger_new (
  ledger_key    TEXT PRIMARY KEY,
  item_id       TEXT NOT NULL UNIQUE,
  claimed_at    TEXT NOT NULL,
  settled_state TEXT CHECK (settled_state IS NULL OR settled_state IN ('done', 'failed', 'skipped')),
  record_id     TEXT
);
INSERT INTO ledger_new (ledger_key, item_id, claimed_at) SELECT ledger_key, item_id, claimed_at FROM ledger;
DROP TABLE ledger;
ALTER TABLE ledger_new RENAME TO ledger;
CREATE INDEX idempotency_by_run ON idempotency (run_id);
`
