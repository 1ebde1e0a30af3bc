/** Runs in the PostgreSQL store: create (idempotently across replicas), read, page, update, count. */
import { BridgeError } from '../../domain/errors.js'
import { emptyRunCounts } from '../../domain/item-state.js'
import type {
  CreateRunInput,
  CreateRunResult,
  ItemState,
  ListRunsQuery,
  NewOutboxMessage,
  RunCounts,
  RunPatch,
  RunRecord,
  RunState,
} from '../../ports/store.js'
import { decodeRunCursor, encodeRunCursor, runTimeBound } from './cursor.js'
import {
  type Cast,
  type PgStoreContext,
  type Query,
  type RunRow,
  single,
  toJson,
  toRun,
  transaction,
  updateRow,
} from './postgres-context.js'
import { insertOutbox } from './postgres-outbox.js'

/** Patchable run fields → column, and the cast its parameter needs. */
const runColumns: Record<keyof RunPatch, { column: string; cast: Cast }> = {
  state: { column: 'state', cast: null },
  startedAt: { column: 'started_at', cast: 'timestamptz' },
  finishedAt: { column: 'finished_at', cast: 'timestamptz' },
  notes: { column: 'notes', cast: 'jsonb' },
  error: { column: 'error', cast: 'jsonb' },
  notBefore: { column: 'not_before', cast: 'timestamptz' },
  batches: { column: 'batches', cast: 'jsonb' },
}

export async function createRun(ctx: PgStoreContext, input: CreateRunInput): Promise<CreateRunResult> {
  const { id, ms } = ctx.nextId('run_')
  const createdAt = new Date(ms).toISOString()
  const insertRun = async (q: Query): Promise<RunRecord> => {
    const rows = await q<RunRow>(
      `INSERT INTO ${ctx.table.runs} (id, flow, state, trigger, idempotency_key, created_at, updated_at, request,
         not_before)
       VALUES ($1, $2, $3, $4, $5, $6, $6, $7::jsonb, $8::timestamptz) RETURNING *`,
      [
        id,
        input.flow,
        input.state ?? 'queued',
        input.trigger,
        input.idempotencyKey ?? null,
        createdAt,
        toJson(input.request),
        input.notBefore ?? null,
      ],
    )
    return toRun(single(rows, `run ${id}`))
  }
  const key = input.idempotencyKey
  if (key === undefined) return { outcome: 'created', run: await insertRun(ctx.query) }
  return transaction(ctx, async (q): Promise<CreateRunResult> => {
    // The key's primary key decides: a replica inserting the same key at the
    // same moment waits for this transaction and then finds the key taken.
    const claimed = await q(
      `INSERT INTO ${ctx.table.idempotency} (key, run_id, request_hash, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (key) DO NOTHING RETURNING key`,
      [key, id, input.requestHash ?? null, createdAt],
    )
    if (claimed.length > 0) return { outcome: 'created', run: await insertRun(q) }
    // The flow is part of the request: one key reused for another flow is a conflict even without hashes.
    const rows = await q<RunRow & { same: boolean }>(
      `SELECT r.*, (i.request_hash IS NOT DISTINCT FROM $2 AND r.flow = $3) AS same
       FROM ${ctx.table.idempotency} i JOIN ${ctx.table.runs} r ON r.id = i.run_id WHERE i.key = $1`,
      [key, input.requestHash ?? null, input.flow],
    )
    const previous = single(rows, `the run of idempotency key ${key}`)
    return { outcome: previous.same ? 'existing' : 'conflict', run: toRun(previous) }
  })
}

export async function listRuns(
  ctx: PgStoreContext,
  q: ListRunsQuery,
): Promise<{ runs: RunRecord[]; nextCursor: string | null }> {
  if (!Number.isInteger(q.limit) || q.limit < 1) {
    throw new BridgeError('VALIDATION_FAILED', `limit must be a positive integer, got ${q.limit}`)
  }
  const where: string[] = []
  const params: unknown[] = []
  const param = (value: unknown) => `$${params.push(value)}`
  if (q.flow !== undefined) where.push(`flow = ${param(q.flow)}`)
  // An empty list matches no run (flow = ANY('{}') is false).
  if (q.flows !== undefined) where.push(`flow = ANY(${param(q.flows)}::text[])`)
  if (q.state !== undefined) where.push(`state = ${param(q.state)}`)
  if (q.createdFrom !== undefined)
    where.push(`created_at >= ${param(runTimeBound('from', q.createdFrom))}::timestamptz`)
  if (q.createdTo !== undefined)
    where.push(`created_at < ${param(runTimeBound('to', q.createdTo))}::timestamptz`)
  if (q.cursor !== undefined) {
    const cursor = decodeRunCursor(q.cursor)
    // Checked here: a well-formed token with a bad date would otherwise surface as a database error.
    if (!Number.isFinite(Date.parse(cursor.createdAt))) {
      throw new BridgeError('VALIDATION_FAILED', 'invalid cursor', { details: { cursor: q.cursor } })
    }
    where.push(`(created_at, id) < (${param(cursor.createdAt)}::timestamptz, ${param(cursor.id)})`)
  }
  // One extra row tells whether another page exists without a count query.
  const rows = await ctx.query<RunRow>(
    `SELECT * FROM ${ctx.table.runs} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created_at DESC, id DESC LIMIT ${param(q.limit + 1)}`,
    params,
  )
  const page = rows.slice(0, q.limit).map(toRun)
  const last = page[page.length - 1]
  const nextCursor =
    rows.length > q.limit && last ? encodeRunCursor({ createdAt: last.createdAt, id: last.id }) : null
  return { runs: page, nextCursor }
}

export async function getRun(ctx: PgStoreContext, id: string): Promise<RunRecord | null> {
  const row = (await ctx.query<RunRow>(`SELECT * FROM ${ctx.table.runs} WHERE id = $1`, [id]))[0]
  return row ? toRun(row) : null
}

export async function updateRun(
  ctx: PgStoreContext,
  id: string,
  patch: RunPatch,
  outbox: readonly NewOutboxMessage[] = [],
): Promise<RunRecord> {
  if (outbox.length === 0) {
    return toRun(await updateRow<RunRow, RunPatch>(ctx, ctx.table.runs, runColumns, 'run', id, patch))
  }
  // One transaction: the run's new state and its notifications commit together or not at all.
  return transaction(ctx, async (q) => {
    const row = await updateRow<RunRow, RunPatch>(
      { ...ctx, query: q },
      ctx.table.runs,
      runColumns,
      'run',
      id,
      patch,
    )
    await insertOutbox(ctx, q, outbox)
    return toRun(row)
  })
}

export async function findRuns(ctx: PgStoreContext, states: RunState[]): Promise<RunRecord[]> {
  if (states.length === 0) return []
  const rows = await ctx.query<RunRow>(
    `SELECT * FROM ${ctx.table.runs} WHERE state = ANY($1::text[]) ORDER BY created_at, id`,
    [states],
  )
  return rows.map(toRun)
}

export async function countRuns(
  ctx: PgStoreContext,
  states: readonly RunState[],
  flows: readonly string[],
): Promise<number> {
  if (states.length === 0 || flows.length === 0) return 0
  const rows = await ctx.query<{ n: number }>(
    `SELECT count(*)::integer AS n FROM ${ctx.table.runs} WHERE state = ANY($1::text[]) AND flow = ANY($2::text[])`,
    [states, flows],
  )
  return single(rows, 'the run count').n
}

export async function runCounts(ctx: PgStoreContext, runId: string): Promise<RunCounts> {
  // The LEFT JOIN answers "does the run exist" and "what are its counts" in one snapshot.
  const rows = await ctx.query<{ state: ItemState | null; n: number; bytes: number }>(
    `SELECT i.state, count(i.id)::integer AS n, coalesce(sum(i.bytes_transferred), 0)::bigint AS bytes
     FROM ${ctx.table.runs} r LEFT JOIN ${ctx.table.items} i ON i.run_id = r.id
     WHERE r.id = $1 GROUP BY i.state`,
    [runId],
  )
  if (rows.length === 0) throw new BridgeError('NOT_FOUND', `run ${runId} not found`)
  const counts = emptyRunCounts()
  for (const row of rows) {
    if (row.state === null) continue
    counts[row.state] = row.n
    counts.total += row.n
    counts.bytesDone += row.bytes
  }
  return counts
}
