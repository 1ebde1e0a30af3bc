/** The notification outbox in the SQLite store (one process: no lease races to settle). */
import type Database from 'better-sqlite3'
import { BridgeError } from '../../domain/errors.js'
import type {
  ClaimOutboxQuery,
  ListOutboxQuery,
  NewOutboxMessage,
  OutboxMessage,
  OutboxSettlement,
} from '../../ports/store.js'
import { decodeOutboxCursor, encodeOutboxCursor } from './cursor.js'
import { type OutboxRow, placeholders, type SqliteStoreContext, toJson, toOutbox } from './sqlite-context.js'

/** Inside a write: inserts the messages whose dedupe key is free; returns how many. */
export function insertOutbox(
  ctx: SqliteStoreContext,
  db: Database.Database,
  messages: readonly NewOutboxMessage[],
): number {
  const at = ctx.isoNow()
  const insert = db.prepare(
    `INSERT INTO outbox (id, dedupe_key, channel, event, flow, run_id, body, state, attempts, next_attempt_at,
                         created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
  )
  let written = 0
  for (const m of messages) {
    const { id } = ctx.nextId('ntf_')
    written += insert.run(
      id,
      m.dedupeKey,
      m.channel,
      m.event,
      m.flow,
      m.runId,
      toJson(m.body),
      at,
      at,
    ).changes
  }
  return written
}

export function claimOutbox(ctx: SqliteStoreContext, q: ClaimOutboxQuery): Promise<OutboxMessage[]> {
  return ctx.write((db) => {
    const now = ctx.isoNow()
    const rows = db
      .prepare<[string, string, string, number], { id: string }>(
        `SELECT id FROM outbox WHERE channel = ?
           AND ((state = 'pending' AND next_attempt_at <= ?) OR (state = 'sending' AND lease_until <= ?))
         ORDER BY next_attempt_at, id LIMIT ?`,
      )
      .all(q.channel, now, now, q.limit)
    if (rows.length === 0) return []
    const ids = rows.map((r) => r.id)
    const until = new Date(Date.parse(now) + q.leaseMs).toISOString()
    db.prepare(
      `UPDATE outbox SET state = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1
       WHERE id IN (${placeholders(ids.length)})`,
    ).run(q.owner, until, ...ids)
    return db
      .prepare<string[], OutboxRow>(
        `SELECT * FROM outbox WHERE id IN (${placeholders(ids.length)}) ORDER BY next_attempt_at, id`,
      )
      .all(...ids)
      .map(toOutbox)
  })
}

export function settleOutbox(
  ctx: SqliteStoreContext,
  id: string,
  owner: string,
  settlement: OutboxSettlement,
): Promise<boolean> {
  return ctx.write((db) => {
    const now = ctx.isoNow()
    const next =
      settlement.state === 'pending' ? new Date(Date.parse(now) + settlement.retryInMs).toISOString() : null
    const result = db
      .prepare(
        `UPDATE outbox SET state = ?, lease_owner = NULL, lease_until = NULL,
           next_attempt_at = coalesce(?, next_attempt_at), last_error = ?, sent_at = ?
         WHERE id = ? AND state = 'sending' AND lease_owner = ?`,
      )
      .run(
        settlement.state,
        next,
        settlement.state === 'sent' ? null : toJson(settlement.error),
        settlement.state === 'sent' ? now : null,
        id,
        owner,
      )
    return result.changes === 1
  })
}

export function listOutbox(
  ctx: SqliteStoreContext,
  q: ListOutboxQuery,
): { messages: OutboxMessage[]; nextCursor: string | null } {
  if (!Number.isInteger(q.limit) || q.limit < 1) {
    throw new BridgeError('VALIDATION_FAILED', `limit must be a positive integer, got ${q.limit}`)
  }
  const where: string[] = []
  const params: (string | number)[] = []
  if (q.state !== undefined) {
    where.push('state = ?')
    params.push(q.state)
  }
  if (q.channel !== undefined) {
    where.push('channel = ?')
    params.push(q.channel)
  }
  if (q.cursor !== undefined) {
    const cursor = decodeOutboxCursor(q.cursor)
    where.push('(created_at, id) < (?, ?)')
    params.push(cursor.createdAt, cursor.id)
  }
  // One extra row tells whether another page exists without a count query.
  params.push(q.limit + 1)
  const rows = ctx
    .db()
    .prepare<(string | number)[], OutboxRow>(
      `SELECT * FROM outbox ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
    .all(...params)
  const messages = rows.slice(0, q.limit).map(toOutbox)
  const last = messages[messages.length - 1]
  const nextCursor =
    rows.length > q.limit && last ? encodeOutboxCursor({ createdAt: last.createdAt, id: last.id }) : null
  return { messages, nextCursor }
}

export function nextOutboxDue(ctx: SqliteStoreContext, channels: readonly string[]): number | null {
  if (channels.length === 0) return null
  const row = ctx
    .db()
    .prepare<string[], { due: string | null }>(
      `SELECT min(CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END) AS due
       FROM outbox WHERE state IN ('pending', 'sending') AND channel IN (${placeholders(channels.length)})`,
    )
    .get(...channels)
  if (!row?.due) return null
  return Math.max(0, Date.parse(row.due) - Date.parse(ctx.isoNow()))
}
