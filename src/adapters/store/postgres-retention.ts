/** Retention for the PostgreSQL store: small batches, one pruner at a time across replicas. */
import { createHash } from 'node:crypto'
import { type PrunedRuns, type PruneRunsQuery, TerminalRunStates } from '../../ports/store.js'
import { type PgStoreContext, type Query, transaction } from './postgres-context.js'

/** The advisory lock a retention batch takes: one per schema, so one pruner at a time across replicas. */
export function retentionLockKeyOf(schema: string): string {
  return createHash('sha256')
    .update(`sdrive-ftp-bridge:retention:${schema}`)
    .digest()
    .readBigInt64BE(0)
    .toString()
}

/** Retention takes this lock per batch: with replicas, one pruner at a time. */
async function underRetentionLock<T>(ctx: PgStoreContext, q: Query, busy: T): Promise<T | null> {
  const [row] = await q<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS locked', [
    retentionLockKeyOf(ctx.schema),
  ])
  return row?.locked ? null : busy
}

export async function pruneRuns(ctx: PgStoreContext, query: PruneRunsQuery): Promise<PrunedRuns> {
  return transaction(ctx, async (q) => {
    const busy = await underRetentionLock(ctx, q, { runs: 0, items: 0, idempotencyKeys: 0, busy: true })
    if (busy) return busy
    const only = 'only' in query.flows
    const flows = 'only' in query.flows ? [...query.flows.only] : [...query.flows.except]
    // FOR UPDATE: a retry re-queueing one of these runs meanwhile waits, then finds it gone (or we skip it).
    const ids = (
      await q<{ id: string }>(
        `SELECT id FROM ${ctx.table.runs}
         WHERE state = ANY($1::text[]) AND coalesce(finished_at, updated_at) < $2
           AND (idempotency_key IS NULL OR created_at < $3)
           AND ${only ? '' : 'NOT '}(flow = ANY($4::text[]))
         LIMIT $5 FOR UPDATE SKIP LOCKED`,
        [[...TerminalRunStates], query.finishedBefore, query.keysCreatedBefore, flows, query.limit],
      )
    ).map((r) => r.id)
    if (ids.length === 0) return { runs: 0, items: 0, idempotencyKeys: 0, busy: false }
    // The ledger rows stay: they take over each item's final state, record and upload digest as it goes.
    const [items] = await q<{ n: number }>(
      `WITH gone AS (DELETE FROM ${ctx.table.items} WHERE run_id = ANY($1::text[]) RETURNING id, state, target, sdrive_file_id, sha256),
            settled AS (
              UPDATE ${ctx.table.ledger} l
              SET settled_state = CASE gone.state WHEN 'done' THEN 'done' WHEN 'skipped' THEN 'skipped'
                                                  ELSE 'failed' END,
                  record_id = gone.target->>'recordId',
                  sdrive_file_id = CASE WHEN gone.state <> 'skipped' THEN gone.sdrive_file_id END,
                  sha256 = CASE WHEN gone.state <> 'skipped' THEN gone.sha256 END
              FROM gone WHERE l.item_id = gone.id RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [ids],
    )
    const [keys] = await q<{ n: number }>(
      `WITH gone AS (DELETE FROM ${ctx.table.idempotency} WHERE run_id = ANY($1::text[]) RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [ids],
    )
    // Leases go with their run (ON DELETE CASCADE).
    const [runs] = await q<{ n: number }>(
      `WITH gone AS (DELETE FROM ${ctx.table.runs} WHERE id = ANY($1::text[]) RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [ids],
    )
    return { runs: runs?.n ?? 0, items: items?.n ?? 0, idempotencyKeys: keys?.n ?? 0, busy: false }
  })
}

export async function pruneReviews(ctx: PgStoreContext, query: { updatedBefore: string; limit: number }) {
  return transaction(ctx, async (q) => {
    const busy = await underRetentionLock(ctx, q, { reviews: 0, busy: true })
    if (busy) return busy
    const [row] = await q<{ n: number }>(
      `WITH gone AS (
         DELETE FROM ${ctx.table.reviews} WHERE correlation_id IN (
           SELECT correlation_id FROM ${ctx.table.reviews}
           WHERE state IN ('resubmitted', 'failed') AND updated_at < $1
           LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [query.updatedBefore, query.limit],
    )
    return { reviews: row?.n ?? 0, busy: false }
  })
}
