/** Runs in the SQLite store: create (idempotently), read, page, update, count. */
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
  assignments,
  placeholders,
  type RunRow,
  runRow,
  type SqliteStoreContext,
  toJson,
  toRun,
} from './sqlite-context.js'
import { insertOutbox } from './sqlite-outbox.js'

/** Patchable run fields → column, and how the value is stored. */
const runColumns: Record<keyof RunPatch, { column: string; json: boolean }> = {
  state: { column: 'state', json: false },
  startedAt: { column: 'started_at', json: false },
  finishedAt: { column: 'finished_at', json: false },
  notes: { column: 'notes', json: true },
  error: { column: 'error', json: true },
  notBefore: { column: 'not_before', json: false },
  batches: { column: 'batches', json: true },
}

function insertRun(ctx: SqliteStoreContext, input: CreateRunInput): RunRecord {
  const { id, ms } = ctx.nextId('run_')
  const createdAt = new Date(ms).toISOString()
  ctx
    .db()
    .prepare(
      `INSERT INTO runs (id, flow, state, trigger, idempotency_key, created_at, updated_at, notes, request,
         not_before)
       VALUES (?, ?, ?, ?, ?, ?, ?, '[]', ?, ?)`,
    )
    .run(
      id,
      input.flow,
      input.state ?? 'queued',
      input.trigger,
      input.idempotencyKey ?? null,
      createdAt,
      createdAt,
      toJson(input.request),
      input.notBefore ?? null,
    )
  return toRun(runRow(ctx, id)!)
}

export function createRun(ctx: SqliteStoreContext, input: CreateRunInput): Promise<CreateRunResult> {
  const key = input.idempotencyKey
  if (key === undefined) return ctx.write(() => ({ outcome: 'created', run: insertRun(ctx, input) }))
  return ctx.write((): CreateRunResult => {
    const conn = ctx.db()
    const previous = conn
      .prepare<[string], { run_id: string; request_hash: string | null }>(
        'SELECT run_id, request_hash FROM idempotency WHERE key = ?',
      )
      .get(key)
    if (previous) {
      const run = toRun(runRow(ctx, previous.run_id)!)
      // The flow is part of the request: one key reused for another flow is a conflict even without hashes.
      const same = previous.request_hash === (input.requestHash ?? null) && run.flow === input.flow
      return { outcome: same ? 'existing' : 'conflict', run }
    }
    const run = insertRun(ctx, input)
    conn
      .prepare('INSERT INTO idempotency (key, run_id, request_hash, created_at) VALUES (?, ?, ?, ?)')
      .run(key, run.id, input.requestHash ?? null, run.createdAt)
    return { outcome: 'created', run }
  })
}

export function listRuns(
  ctx: SqliteStoreContext,
  query: ListRunsQuery,
): { runs: RunRecord[]; nextCursor: string | null } {
  if (!Number.isInteger(query.limit) || query.limit < 1) {
    throw new BridgeError('VALIDATION_FAILED', `limit must be a positive integer, got ${query.limit}`)
  }
  const where: string[] = []
  const params: (string | number)[] = []
  if (query.flow !== undefined) {
    where.push('flow = ?')
    params.push(query.flow)
  }
  if (query.flows !== undefined) {
    // No flow at all matches no run (an empty IN list is not valid SQL everywhere).
    where.push(query.flows.length === 0 ? '0' : `flow IN (${placeholders(query.flows.length)})`)
    params.push(...query.flows)
  }
  if (query.state !== undefined) {
    where.push('state = ?')
    params.push(query.state)
  }
  if (query.createdFrom !== undefined) {
    where.push('created_at >= ?')
    params.push(runTimeBound('from', query.createdFrom))
  }
  if (query.createdTo !== undefined) {
    where.push('created_at < ?')
    params.push(runTimeBound('to', query.createdTo))
  }
  if (query.cursor !== undefined) {
    const cursor = decodeRunCursor(query.cursor)
    where.push('(created_at, id) < (?, ?)')
    params.push(cursor.createdAt, cursor.id)
  }
  // One extra row tells whether another page exists without a count query.
  params.push(query.limit + 1)
  const rows = ctx
    .db()
    .prepare<(string | number)[], RunRow>(
      `SELECT * FROM runs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
    .all(...params)
  const page = rows.slice(0, query.limit).map(toRun)
  const last = page[page.length - 1]
  const nextCursor =
    rows.length > query.limit && last ? encodeRunCursor({ createdAt: last.createdAt, id: last.id }) : null
  return { runs: page, nextCursor }
}

export function updateRun(
  ctx: SqliteStoreContext,
  id: string,
  patch: RunPatch,
  outbox: readonly NewOutboxMessage[] = [],
): Promise<RunRecord> {
  return ctx.write((db) => {
    const { sets, values } = assignments(runColumns, patch)
    const result = ctx
      .db()
      .prepare(`UPDATE runs SET ${[...sets, 'updated_at = ?'].join(', ')} WHERE id = ?`)
      .run(...values, ctx.isoNow(), id)
    if (result.changes === 0) throw new BridgeError('NOT_FOUND', `run ${id} not found`)
    // The same savepoint: the run's new state and its notifications commit together or not at all.
    insertOutbox(ctx, db, outbox)
    return toRun(runRow(ctx, id)!)
  })
}

export function findRuns(ctx: SqliteStoreContext, states: RunState[]): RunRecord[] {
  if (states.length === 0) return []
  return ctx
    .db()
    .prepare<string[], RunRow>(
      `SELECT * FROM runs WHERE state IN (${placeholders(states.length)}) ORDER BY created_at, id`,
    )
    .all(...states)
    .map(toRun)
}

export function countRuns(
  ctx: SqliteStoreContext,
  states: readonly RunState[],
  flows: readonly string[],
): number {
  if (states.length === 0 || flows.length === 0) return 0
  return ctx
    .db()
    .prepare<string[], { n: number }>(
      `SELECT count(*) AS n FROM runs
       WHERE state IN (${placeholders(states.length)}) AND flow IN (${placeholders(flows.length)})`,
    )
    .get(...states, ...flows)!.n
}

export function runCounts(ctx: SqliteStoreContext, runId: string): RunCounts {
  const conn = ctx.db()
  if (!runRow(ctx, runId)) throw new BridgeError('NOT_FOUND', `run ${runId} not found`)
  const rows = conn
    .prepare<[string], { state: ItemState; n: number; bytes: number }>(
      `SELECT state, count(*) AS n, coalesce(sum(bytes_transferred), 0) AS bytes
       FROM items WHERE run_id = ? GROUP BY state`,
    )
    .all(runId)
  const counts = emptyRunCounts()
  for (const row of rows) {
    counts[row.state] = row.n
    counts.total += row.n
    counts.bytesDone += row.bytes
  }
  return counts
}
