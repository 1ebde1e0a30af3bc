/**
 * The audit trail's query in the SQLite store: file outcomes by (updated_at,
 * id), keyset-paged on the partial index `items_outcomes` (migration 007).
 * The state filter is written exactly as the index's WHERE, or SQLite does
 * not use the index.
 */
import { BridgeError } from '../../domain/errors.js'
import type { ItemRecord, ListOutcomesQuery } from '../../ports/store.js'
import { decodeOutcomeCursor, encodeOutcomeCursor, outcomeSince } from './cursor.js'
import { type ItemRow, type SqliteStoreContext, toItem } from './sqlite-context.js'

export function listFileOutcomes(
  ctx: SqliteStoreContext,
  query: ListOutcomesQuery,
): { items: ItemRecord[]; nextCursor: string | null } {
  if (!Number.isInteger(query.limit) || query.limit < 1) {
    throw new BridgeError('VALIDATION_FAILED', `limit must be a positive integer, got ${query.limit}`)
  }
  const where = [`state IN ('done', 'skipped', 'failed')`]
  const params: (string | number)[] = []
  if (query.since !== undefined) {
    where.push('updated_at >= ?')
    params.push(outcomeSince(query.since))
  }
  if (query.cursor !== undefined) {
    const cursor = decodeOutcomeCursor(query.cursor)
    where.push('(updated_at, id) > (?, ?)')
    params.push(cursor.updatedAt, cursor.id)
  }
  // One extra row tells whether another page exists without a count query.
  params.push(query.limit + 1)
  const rows = ctx
    .db()
    .prepare<(string | number)[], ItemRow>(
      `SELECT * FROM items WHERE ${where.join(' AND ')} ORDER BY updated_at, id LIMIT ?`,
    )
    .all(...params)
  const items = rows.slice(0, query.limit).map(toItem)
  const last = items[items.length - 1]
  const nextCursor =
    rows.length > query.limit && last ? encodeOutcomeCursor({ updatedAt: last.updatedAt, id: last.id }) : null
  return { items, nextCursor }
}
