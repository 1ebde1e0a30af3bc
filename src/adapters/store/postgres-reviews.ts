/** Reviews (the reject/resubmit loop) in the PostgreSQL store. */
import { BridgeError } from '../../domain/errors.js'
import type {
  FindReviewsQuery,
  NewOutboxMessage,
  NewReview,
  ReviewPatch,
  ReviewRecord,
} from '../../ports/store.js'
import { type PgStoreContext, type ReviewRow, single, toReview, transaction } from './postgres-context.js'
import { insertOutbox } from './postgres-outbox.js'
import { reviewDataOf } from './rows.js'

export async function createReview(
  ctx: PgStoreContext,
  input: NewReview,
  outbox: readonly NewOutboxMessage[] = [],
): Promise<{ outcome: 'created' | 'existing'; review: ReviewRecord }> {
  const at = ctx.isoNow()
  const { correlationId, flow, fileId, originalName, returnedName, ...rest } = input
  // One transaction: the rejection and its notifications commit together; ON CONFLICT DO NOTHING: two
  // replicas rejecting the same file at once get one review (and the loser writes no message).
  const inserted = await transaction(ctx, async (q) => {
    const rows = await q<ReviewRow>(
      `INSERT INTO ${ctx.table.reviews} (correlation_id, flow, file_id, state, original_name, returned_name, data,
                                   created_at, updated_at)
     VALUES ($1, $2, $3, 'rejecting', $4, $5, $6::jsonb, $7::timestamptz, $7::timestamptz)
     ON CONFLICT (flow, file_id) DO NOTHING RETURNING *`,
      [correlationId, flow, fileId, originalName, returnedName, JSON.stringify(reviewDataOf(rest)), at],
    )
    if (rows[0]) await insertOutbox(ctx, q, outbox)
    return rows
  })
  if (inserted[0]) return { outcome: 'created', review: toReview(inserted[0]) }
  const existing = await ctx.query<ReviewRow>(
    `SELECT * FROM ${ctx.table.reviews} WHERE flow = $1 AND file_id = $2`,
    [flow, fileId],
  )
  return { outcome: 'existing', review: toReview(single(existing, `review of ${fileId}`)) }
}

export async function getReview(ctx: PgStoreContext, correlationId: string): Promise<ReviewRecord | null> {
  const rows = await ctx.query<ReviewRow>(`SELECT * FROM ${ctx.table.reviews} WHERE correlation_id = $1`, [
    correlationId,
  ])
  return rows[0] ? toReview(rows[0]) : null
}

export async function findReviews(ctx: PgStoreContext, q: FindReviewsQuery): Promise<ReviewRecord[]> {
  const where: string[] = []
  const values: unknown[] = []
  const param = (value: unknown) => {
    values.push(value)
    return `$${values.length}`
  }
  if (q.flow !== undefined) where.push(`flow = ${param(q.flow)}`)
  if (q.fileId !== undefined) where.push(`file_id = ${param(q.fileId)}`)
  if (q.states !== undefined) {
    if (q.states.length === 0) return []
    where.push(`state = ANY(${param(q.states)}::text[])`)
  }
  if (q.names !== undefined) {
    if (q.names.length === 0) return []
    const names = param(q.names)
    where.push(`(original_name = ANY(${names}::text[]) OR returned_name = ANY(${names}::text[]))`)
  }
  const rows = await ctx.query<ReviewRow>(
    `SELECT * FROM ${ctx.table.reviews} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created_at, correlation_id`,
    values,
  )
  return rows.map(toReview)
}

export async function updateReview(
  ctx: PgStoreContext,
  correlationId: string,
  patch: ReviewPatch,
): Promise<ReviewRecord> {
  const { state, ...data } = patch
  const rows = await ctx.query<ReviewRow>(
    `UPDATE ${ctx.table.reviews} SET state = COALESCE($2, state), data = data || $3::jsonb,
            updated_at = $4::timestamptz
     WHERE correlation_id = $1 RETURNING *`,
    [correlationId, state ?? null, JSON.stringify(reviewDataOf(data)), ctx.isoNow()],
  )
  if (!rows[0]) throw new BridgeError('NOT_FOUND', `review ${correlationId} does not exist`)
  return toReview(rows[0])
}
