/** Reviews (the reject/resubmit loop) in the SQLite store. */
import { BridgeError } from '../../domain/errors.js'
import type {
  FindReviewsQuery,
  NewOutboxMessage,
  NewReview,
  ReviewPatch,
  ReviewRecord,
} from '../../ports/store.js'
import { reviewDataOf } from './rows.js'
import {
  placeholders,
  type ReviewRow,
  reviewRow,
  type SqliteStoreContext,
  toReview,
} from './sqlite-context.js'
import { insertOutbox } from './sqlite-outbox.js'

export function createReview(
  ctx: SqliteStoreContext,
  input: NewReview,
  outbox: readonly NewOutboxMessage[] = [],
): Promise<{ outcome: 'created' | 'existing'; review: ReviewRecord }> {
  return ctx.write((db) => {
    const existing = ctx
      .db()
      .prepare<[string, string], ReviewRow>('SELECT * FROM reviews WHERE flow = ? AND file_id = ?')
      .get(input.flow, input.fileId)
    if (existing) return { outcome: 'existing' as const, review: toReview(existing) }
    const at = ctx.isoNow()
    const { correlationId, flow, fileId, originalName, returnedName, ...rest } = input
    ctx
      .db()
      .prepare(
        `INSERT INTO reviews (correlation_id, flow, file_id, state, original_name, returned_name, data,
                              created_at, updated_at)
         VALUES (?, ?, ?, 'rejecting', ?, ?, ?, ?, ?)`,
      )
      .run(
        correlationId,
        flow,
        fileId,
        originalName,
        returnedName,
        JSON.stringify(reviewDataOf(rest)),
        at,
        at,
      )
    insertOutbox(ctx, db, outbox)
    return { outcome: 'created' as const, review: toReview(reviewRow(ctx, correlationId) as ReviewRow) }
  })
}

export function findReviews(ctx: SqliteStoreContext, q: FindReviewsQuery): ReviewRecord[] {
  const where: string[] = []
  const values: string[] = []
  if (q.flow !== undefined) {
    where.push('flow = ?')
    values.push(q.flow)
  }
  if (q.fileId !== undefined) {
    where.push('file_id = ?')
    values.push(q.fileId)
  }
  if (q.states !== undefined) {
    if (q.states.length === 0) return []
    where.push(`state IN (${placeholders(q.states.length)})`)
    values.push(...q.states)
  }
  if (q.names !== undefined) {
    if (q.names.length === 0) return []
    const list = placeholders(q.names.length)
    where.push(`(original_name IN (${list}) OR returned_name IN (${list}))`)
    values.push(...q.names, ...q.names)
  }
  const sql = `SELECT * FROM reviews ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
               ORDER BY created_at, correlation_id`
  return ctx
    .db()
    .prepare<string[], ReviewRow>(sql)
    .all(...values)
    .map(toReview)
}

export function updateReview(
  ctx: SqliteStoreContext,
  correlationId: string,
  patch: ReviewPatch,
): Promise<ReviewRecord> {
  return ctx.write(() => {
    const row = reviewRow(ctx, correlationId)
    if (!row) throw new BridgeError('NOT_FOUND', `review ${correlationId} does not exist`)
    const { state, ...data } = patch
    const merged = { ...(JSON.parse(row.data) as object), ...reviewDataOf(data) }
    ctx
      .db()
      .prepare('UPDATE reviews SET state = ?, data = ?, updated_at = ? WHERE correlation_id = ?')
      .run(state ?? row.state, JSON.stringify(merged), ctx.isoNow(), correlationId)
    return toReview(reviewRow(ctx, correlationId) as ReviewRow)
  })
}
