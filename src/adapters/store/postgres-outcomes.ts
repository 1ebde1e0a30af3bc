/**
 * The audit trail's query in the PostgreSQL store: file outcomes by
 * (updated_at, id), keyset-paged on the partial index `items_outcomes`
 * (migration 007), whose WHERE the state filter repeats.
 */
import { BridgeError } from '../../domain/errors.js'
import type { ItemRecord, ListOutcomesQuery } from '../../ports/store.js'
import { decodeOutcomeCursor, encodeOutcomeCursor, outcomeSince } from './cursor.js'
import { type ItemRow, type PgStoreContext, toItem } from './postgres-context.js'

export async function listFileOutcomes(
  ctx: PgStoreContext,
  q: ListOutcomesQuery,
): Promise<{ items: ItemRecord[]; nextCursor: string | null }> {
  if (!Number.isInteger(q.limit) || q.limit < 1) {
    throw new BridgeError('VALIDATION_FAILED', `limit must be a positive integer, got ${q.limit}`)
  }
  const where = [`state IN ('done', 'skipped', 'failed')`]
  const params: unknown[] = []
  const param = (value: unknown) => `$${params.push(value)}`
  if (q.since !== undefined) where.push(`updated_at >= ${param(outcomeSince(q.since))}::timestamptz`)
  if (q.cursor !== undefined) {
    const cursor = decodeOutcomeCursor(q.cursor)
    where.push(`(updated_at, id) > (${param(cursor.updatedAt)}::timestamptz, ${param(cursor.id)})`)
  }
  // One extra row tells whether another page exists without a count query.
  const rows = await ctx.query<ItemRow>(
    `SELECT * FROM ${ctx.table.items} WHERE ${where.join(' AND ')}
     ORDER BY updated_at, id LIMIT ${param(q.limit + 1)}`,
    params,
  )
  const items = rows.slice(0, q.limit).map(toItem)
  const last = items[items.length - 1]
  const nextCursor =
    rows.length > q.limit && last ? encodeOutcomeCursor({ updatedAt: last.updatedAt, id: last.id }) : null
  return { items, nextCursor }
}
