/**
 * Retention statements for the SQLite store. Each call is one small batch,
 * run inside the caller's write (the group commit), so a batch holds the
 * write lock for milliseconds and other writes interleave between batches.
 */
import type Database from 'better-sqlite3'
import { type PrunedRuns, type PruneRunsQuery, TerminalRunStates } from '../../ports/store.js'

/** A pruned item's final state as the ledger keeps it: a run that ended with it unfinished counts it failed. */
/** The item's own upload: a skipped item's S-Drive file id names a file that was there before. */
const uploadedOnly = (column: string) => `CASE WHEN state <> 'skipped' THEN ${column} END`
const settledState = `CASE state WHEN 'done' THEN 'done' WHEN 'skipped' THEN 'skipped' ELSE 'failed' END`

export function pruneRunsIn(db: Database.Database, query: PruneRunsQuery): PrunedRuns {
  const only = 'only' in query.flows
  const flows = 'only' in query.flows ? query.flows.only : query.flows.except
  // An empty list is not valid SQL everywhere: no flow matches nothing, all-but-none matches everything.
  const flowFilter =
    flows.length === 0
      ? only
        ? '0'
        : '1'
      : `flow ${only ? '' : 'NOT '}IN (${flows.map(() => '?').join(', ')})`
  const ids = db
    .prepare<(string | number)[], { id: string }>(
      `SELECT id FROM runs
       WHERE state IN (${TerminalRunStates.map(() => '?').join(', ')})
         AND coalesce(finished_at, updated_at) < ?
         AND (idempotency_key IS NULL OR created_at < ?)
         AND ${flowFilter}
       LIMIT ?`,
    )
    .all(...TerminalRunStates, query.finishedBefore, query.keysCreatedBefore, ...flows, query.limit)
    .map((r) => r.id)
  if (ids.length === 0) return { runs: 0, items: 0, idempotencyKeys: 0, busy: false }
  const list = JSON.stringify(ids)
  // The ledger rows stay: they take over the item's final state, record and upload digest before the item goes.
  db.prepare(
    `UPDATE ledger SET settled_state = i.settled, record_id = i.record_id,
       sdrive_file_id = i.sdrive_file_id, sha256 = i.sha256
     FROM (SELECT id, ${settledState} AS settled, json_extract(target, '$.recordId') AS record_id,
                  ${uploadedOnly('sdrive_file_id')} AS sdrive_file_id, ${uploadedOnly('sha256')} AS sha256
           FROM items WHERE run_id IN (SELECT value FROM json_each(?))) AS i
     WHERE ledger.item_id = i.id`,
  ).run(list)
  const items = db.prepare('DELETE FROM items WHERE run_id IN (SELECT value FROM json_each(?))').run(list)
  const keys = db
    .prepare('DELETE FROM idempotency WHERE run_id IN (SELECT value FROM json_each(?))')
    .run(list)
  // Leases go with their run (ON DELETE CASCADE).
  const runs = db.prepare('DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?))').run(list)
  return { runs: runs.changes, items: items.changes, idempotencyKeys: keys.changes, busy: false }
}

export function pruneReviewsIn(
  db: Database.Database,
  query: { updatedBefore: string; limit: number },
): { reviews: number; busy: boolean } {
  const result = db
    .prepare(
      `DELETE FROM reviews WHERE correlation_id IN (
         SELECT correlation_id FROM reviews
         WHERE state IN ('resubmitted', 'failed') AND updated_at < ? LIMIT ?)`,
    )
    .run(query.updatedBefore, query.limit)
  return { reviews: result.changes, busy: false }
}
