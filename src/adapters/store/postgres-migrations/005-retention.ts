/**
 * Retention: finished runs and their items are pruned, the exactly-once
 * ledger is not. A ledger row used to vanish with its item (ON DELETE
 * CASCADE), which would let a file processed a year ago be taken again once
 * its run was pruned. So the ledger no longer references items: a row
 * outlives its item and keeps, in two compact columns, what readers need
 * once the item is gone — its final state and the record it went to. The
 * primary key on ledger_key stays the one thing that decides a claim, so a
 * replica claiming a file while its item is being pruned still finds the key
 * taken.
 *
 * idempotency_by_run: deleting a run cascades into idempotency, and without
 * an index on run_id every deleted run would scan the whole table.
 */
export const sql = `
ALTER TABLE ledger DROP CONSTRAINT ledger_item_id_fkey;
ALTER TABLE ledger ADD COLUMN settled_state text
  CHECK (settled_state IS NULL OR settled_state IN ('done', 'failed', 'skipped'));
ALTER TABLE ledger ADD COLUMN record_id text;
CREATE INDEX idempotency_by_run ON idempotency (run_id);
`
