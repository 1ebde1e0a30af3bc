/**
 * The notification outbox in the PostgreSQL store. Replicas claim with
 * FOR UPDATE SKIP LOCKED, so two workers never lease the same message; the
 * dedupe key's unique index makes a second replica's write of the same
 * event a no-op.
 */
import { BridgeError } from '../../domain/errors.js'
import type {
  ClaimOutboxQuery,
  ListOutboxQuery,
  NewOutboxMessage,
  OutboxMessage,
  OutboxSettlement,
} from '../../ports/store.js'
import { decodeOutboxCursor, encodeOutboxCursor } from './cursor.js'
import { type OutboxRow, type PgStoreContext, type Query, toJson, toOutbox } from './postgres-context.js'

/** Inserts the messages whose dedupe key is free (on `q`: a transaction's connection, or the pool); returns how many. */
export async function insertOutbox(
  ctx: PgStoreContext,
  q: Query,
  messages: readonly NewOutboxMessage[],
): Promise<number> {
  if (messages.length === 0) return 0
  const at = ctx.isoNow()
  const rows = await q<{ id: string }>(
    `INSERT INTO ${ctx.table.outbox} (id, dedupe_key, channel, event, flow, run_id, body, state, attempts,
                                      next_attempt_at, created_at)
     SELECT m.id, m.dedupe_key, m.channel, m.event, m.flow, m.run_id, m.body::jsonb, 'pending', 0,
            $2::timestamptz, $2::timestamptz
     FROM jsonb_to_recordset($1::jsonb) AS m(id text, dedupe_key text, channel text, event text, flow text,
                                              run_id text, body text)
     ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
    [
      JSON.stringify(
        messages.map((m) => ({
          id: ctx.nextId('ntf_').id,
          dedupe_key: m.dedupeKey,
          channel: m.channel,
          event: m.event,
          flow: m.flow,
          run_id: m.runId,
          body: toJson(m.body),
        })),
      ),
      at,
    ],
  )
  return rows.length
}

export async function claimOutbox(ctx: PgStoreContext, q: ClaimOutboxQuery): Promise<OutboxMessage[]> {
  const now = ctx.isoNow()
  const rows = await ctx.query<OutboxRow>(
    `UPDATE ${ctx.table.outbox} o
     SET state = 'sending', lease_owner = $1, lease_until = $3::timestamptz + $4 * interval '1 millisecond',
         attempts = o.attempts + 1
     WHERE o.id IN (
       SELECT id FROM ${ctx.table.outbox}
       WHERE channel = $2
         AND ((state = 'pending' AND next_attempt_at <= $3::timestamptz)
           OR (state = 'sending' AND lease_until <= $3::timestamptz))
       ORDER BY next_attempt_at, id LIMIT $5
       FOR UPDATE SKIP LOCKED)
     RETURNING o.*`,
    [q.owner, q.channel, now, q.leaseMs, q.limit],
  )
  return rows
    .map(toOutbox)
    .sort((a, b) => a.nextAttemptAt.localeCompare(b.nextAttemptAt) || a.id.localeCompare(b.id))
}

export async function settleOutbox(
  ctx: PgStoreContext,
  id: string,
  owner: string,
  settlement: OutboxSettlement,
): Promise<boolean> {
  const now = ctx.isoNow()
  const rows = await ctx.query<{ id: string }>(
    `UPDATE ${ctx.table.outbox}
     SET state = $3, lease_owner = NULL, lease_until = NULL,
         next_attempt_at = coalesce($4::timestamptz + $5 * interval '1 millisecond', next_attempt_at),
         last_error = $6::jsonb, sent_at = $7::timestamptz
     WHERE id = $1 AND state = 'sending' AND lease_owner = $2 RETURNING id`,
    [
      id,
      owner,
      settlement.state,
      settlement.state === 'pending' ? now : null,
      settlement.state === 'pending' ? settlement.retryInMs : 0,
      settlement.state === 'sent' ? null : toJson(settlement.error),
      settlement.state === 'sent' ? now : null,
    ],
  )
  return rows.length === 1
}

export async function listOutbox(
  ctx: PgStoreContext,
  q: ListOutboxQuery,
): Promise<{ messages: OutboxMessage[]; nextCursor: string | null }> {
  if (!Number.isInteger(q.limit) || q.limit < 1) {
    throw new BridgeError('VALIDATION_FAILED', `limit must be a positive integer, got ${q.limit}`)
  }
  const where: string[] = []
  const params: unknown[] = []
  const param = (value: unknown) => `$${params.push(value)}`
  if (q.state !== undefined) where.push(`state = ${param(q.state)}`)
  if (q.channel !== undefined) where.push(`channel = ${param(q.channel)}`)
  if (q.cursor !== undefined) {
    const cursor = decodeOutboxCursor(q.cursor)
    where.push(`(created_at, id) < (${param(cursor.createdAt)}::timestamptz, ${param(cursor.id)})`)
  }
  // One extra row tells whether another page exists without a count query.
  const rows = await ctx.query<OutboxRow>(
    `SELECT * FROM ${ctx.table.outbox} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created_at DESC, id DESC LIMIT ${param(q.limit + 1)}`,
    params,
  )
  const messages = rows.slice(0, q.limit).map(toOutbox)
  const last = messages[messages.length - 1]
  const nextCursor =
    rows.length > q.limit && last ? encodeOutboxCursor({ createdAt: last.createdAt, id: last.id }) : null
  return { messages, nextCursor }
}

export async function nextOutboxDue(
  ctx: PgStoreContext,
  channels: readonly string[],
): Promise<number | null> {
  if (channels.length === 0) return null
  const rows = await ctx.query<{ due: string | null }>(
    `SELECT min(CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END) AS due
     FROM ${ctx.table.outbox} WHERE state IN ('pending', 'sending') AND channel = ANY($1::text[])`,
    [channels],
  )
  const due = rows[0]?.due
  if (!due) return null
  return Math.max(0, Date.parse(due) - Date.parse(ctx.isoNow()))
}
