/**
 * What the operator console reads and writes in the SQLite store: a run's
 * items page by page, the outcome histogram, and console sessions. Each
 * query is written to be answered from an index of migration 009.
 */
import { BridgeError } from '../../domain/errors.js'
import type {
  ConsoleSession,
  ItemRecord,
  ListRunItemsQuery,
  OutcomeBucket,
  RunSizes,
} from '../../ports/store.js'
import { decodeItemCursor, encodeItemCursor, outcomeSince } from './cursor.js'
import { type SessionRow, toSession } from './rows.js'
import { type ItemRow, type SqliteStoreContext, toItem } from './sqlite-context.js'

export function listRunItems(
  ctx: SqliteStoreContext,
  runId: string,
  query: ListRunItemsQuery,
): { items: ItemRecord[]; nextCursor: string | null } {
  if (!Number.isInteger(query.limit) || query.limit < 1) {
    throw new BridgeError('VALIDATION_FAILED', `limit must be a positive integer, got ${query.limit}`)
  }
  const where = ['run_id = ?']
  const params: (string | number)[] = [runId]
  if (query.state !== undefined) {
    where.push('state = ?')
    params.push(query.state)
  }
  if (query.cursor !== undefined) {
    where.push('id > ?')
    params.push(decodeItemCursor(query.cursor))
  }
  // One extra row tells whether another page exists without a count query.
  params.push(query.limit + 1)
  const rows = ctx
    .db()
    .prepare<(string | number)[], ItemRow>(
      `SELECT * FROM items WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`,
    )
    .all(...params)
  const items = rows.slice(0, query.limit).map(toItem)
  const last = items[items.length - 1]
  return { items, nextCursor: rows.length > query.limit && last ? encodeItemCursor(last.id) : null }
}

export function runSizes(ctx: SqliteStoreContext, runId: string): RunSizes {
  return ctx
    .db()
    .prepare<[string], RunSizes>(
      `SELECT coalesce(sum(size), 0) AS bytesTotal,
         coalesce(sum(CASE WHEN state IN ('done', 'skipped', 'failed', 'finalizing') THEN size ELSE 0 END), 0)
           AS bytesFinished
       FROM items WHERE run_id = ?`,
    )
    .get(runId) as RunSizes
}

export function outcomeHistogram(ctx: SqliteStoreContext, query: { since: string }): OutcomeBucket[] {
  // The state filter repeats the partial index's WHERE word for word, or SQLite does not use it.
  return ctx
    .db()
    .prepare<[string], OutcomeBucket>(
      `SELECT flow, substr(updated_at, 1, 13) || ':00:00.000Z' AS hour,
         sum(state <> 'failed') AS done, sum(state = 'failed') AS failed
       FROM items INDEXED BY items_outcomes_by_flow
       WHERE state IN ('done', 'skipped', 'failed') AND updated_at >= ?
       GROUP BY flow, hour ORDER BY hour, flow`,
    )
    .all(outcomeSince(query.since))
}

export function createSession(ctx: SqliteStoreContext, session: ConsoleSession): Promise<void> {
  return ctx.write(() => {
    ctx
      .db()
      .prepare(
        'INSERT INTO console_sessions (id_hash, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?)',
      )
      .run(session.idHash, session.createdAt, session.lastSeenAt, session.expiresAt)
  })
}

export function touchSession(
  ctx: SqliteStoreContext,
  idHash: string,
  at: { now: string; idleSince: string },
): Promise<ConsoleSession | null> {
  return ctx.write(() => {
    const row = ctx
      .db()
      .prepare<[string, string, string, string], SessionRow>(
        `UPDATE console_sessions SET last_seen_at = ?
         WHERE id_hash = ? AND last_seen_at >= ? AND expires_at > ? RETURNING *`,
      )
      .get(at.now, idHash, at.idleSince, at.now)
    return row ? toSession(row) : null
  })
}

export function deleteSession(ctx: SqliteStoreContext, idHash: string): Promise<void> {
  return ctx.write(() => {
    ctx.db().prepare('DELETE FROM console_sessions WHERE id_hash = ?').run(idHash)
  })
}

export function deleteExpiredSessions(
  ctx: SqliteStoreContext,
  at: { now: string; idleSince: string },
): Promise<number> {
  return ctx.write(
    () =>
      ctx
        .db()
        .prepare('DELETE FROM console_sessions WHERE last_seen_at < ? OR expires_at <= ?')
        .run(at.idleSince, at.now).changes,
  )
}
