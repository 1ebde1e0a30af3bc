/**
 * What the operator console reads and writes in the PostgreSQL store: a
 * run's items page by page, the outcome histogram, and console sessions
 * (shared by every replica). Each query is answered from an index of
 * migration 009.
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
import { type ItemRow, type PgStoreContext, toItem } from './postgres-context.js'
import { type SessionRow, toSession } from './rows.js'

export async function listRunItems(
  ctx: PgStoreContext,
  runId: string,
  q: ListRunItemsQuery,
): Promise<{ items: ItemRecord[]; nextCursor: string | null }> {
  if (!Number.isInteger(q.limit) || q.limit < 1) {
    throw new BridgeError('VALIDATION_FAILED', `limit must be a positive integer, got ${q.limit}`)
  }
  const params: unknown[] = []
  const param = (value: unknown) => `$${params.push(value)}`
  const where = [`run_id = ${param(runId)}`]
  if (q.state !== undefined) where.push(`state = ${param(q.state)}`)
  if (q.cursor !== undefined) where.push(`id > ${param(decodeItemCursor(q.cursor))}`)
  // One extra row tells whether another page exists without a count query.
  const rows = await ctx.query<ItemRow>(
    `SELECT * FROM ${ctx.table.items} WHERE ${where.join(' AND ')} ORDER BY id LIMIT ${param(q.limit + 1)}`,
    params,
  )
  const items = rows.slice(0, q.limit).map(toItem)
  const last = items[items.length - 1]
  return { items, nextCursor: rows.length > q.limit && last ? encodeItemCursor(last.id) : null }
}

export async function runSizes(ctx: PgStoreContext, runId: string): Promise<RunSizes> {
  const rows = await ctx.query<{ total: number; finished: number }>(
    `SELECT coalesce(sum(size), 0)::bigint AS total,
       coalesce(sum(size) FILTER (WHERE state IN ('done', 'skipped', 'failed', 'finalizing')), 0)::bigint AS finished
     FROM ${ctx.table.items} WHERE run_id = $1`,
    [runId],
  )
  return { bytesTotal: rows[0]?.total ?? 0, bytesFinished: rows[0]?.finished ?? 0 }
}

export async function outcomeHistogram(
  ctx: PgStoreContext,
  query: { since: string },
): Promise<OutcomeBucket[]> {
  // The state filter repeats the partial index's WHERE, so the planner can answer from it.
  return ctx.query<OutcomeBucket>(
    `SELECT flow,
       to_char(date_trunc('hour', updated_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00.000"Z"') AS hour,
       (count(*) FILTER (WHERE state <> 'failed'))::integer AS done,
       (count(*) FILTER (WHERE state = 'failed'))::integer AS failed
     FROM ${ctx.table.items}
     WHERE state IN ('done', 'skipped', 'failed') AND updated_at >= $1::timestamptz
     GROUP BY flow, hour ORDER BY hour, flow`,
    [outcomeSince(query.since)],
  )
}

export async function createSession(ctx: PgStoreContext, session: ConsoleSession): Promise<void> {
  await ctx.query(
    `INSERT INTO ${ctx.table.sessions} (id_hash, created_at, last_seen_at, expires_at)
     VALUES ($1, $2::timestamptz, $3::timestamptz, $4::timestamptz)`,
    [session.idHash, session.createdAt, session.lastSeenAt, session.expiresAt],
  )
}

export async function touchSession(
  ctx: PgStoreContext,
  idHash: string,
  at: { now: string; idleSince: string },
): Promise<ConsoleSession | null> {
  const rows = await ctx.query<SessionRow>(
    `UPDATE ${ctx.table.sessions} SET last_seen_at = $1::timestamptz
     WHERE id_hash = $2 AND last_seen_at >= $3::timestamptz AND expires_at > $1::timestamptz
     RETURNING *`,
    [at.now, idHash, at.idleSince],
  )
  const row = rows[0]
  return row ? toSession(row) : null
}

export async function deleteSession(ctx: PgStoreContext, idHash: string): Promise<void> {
  await ctx.query(`DELETE FROM ${ctx.table.sessions} WHERE id_hash = $1`, [idHash])
}

export async function deleteExpiredSessions(
  ctx: PgStoreContext,
  at: { now: string; idleSince: string },
): Promise<number> {
  const rows = await ctx.query<{ id_hash: string }>(
    `DELETE FROM ${ctx.table.sessions}
     WHERE last_seen_at < $1::timestamptz OR expires_at <= $2::timestamptz RETURNING id_hash`,
    [at.idleSince, at.now],
  )
  return rows.length
}
