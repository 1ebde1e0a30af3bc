/** What the PostgreSQL store's statements share: the pool, the schema's tables, ids and clock, row codecs. */
import type pg from 'pg'
import { BridgeError } from '../../domain/errors.js'
import type {
  ItemRecord,
  ItemState,
  LedgerOwner,
  OutboxMessage,
  ReviewRecord,
  RunRecord,
} from '../../ports/store.js'
import type { IdGenerator } from './ids.js'
import { translateError } from './postgres-errors.js'
import {
  type ItemRow as ItemRowOf,
  type JsonDecoder,
  type OutboxRow as OutboxRowOf,
  type ReviewRow as ReviewRowOf,
  type RunRow as RunRowOf,
  toItemRecord,
  toOutboxRecord,
  toReviewRecord,
  toRunRecord,
} from './rows.js'

export type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<R[]>

export type Cast = 'jsonb' | 'timestamptz' | null

/** The store's tables, each qualified with the schema. */
export interface PgTables {
  migrations: string
  runs: string
  items: string
  ledger: string
  idempotency: string
  reviews: string
  outbox: string
  sessions: string
}

export interface PgStoreContext {
  /** Schema that holds the tables (a plain name, checked at creation). */
  schema: string
  table: PgTables
  /** The pool, unless the store was closed. */
  pool(): pg.Pool
  /** One statement on any pooled connection, errors translated. */
  query: Query
  nextId: IdGenerator
  isoNow: () => string
}

export interface OwnerRow {
  ledger_key: string
  item_id: string
  state: ItemState
  record_id: string | null
}

/** Runs fn on one connection inside BEGIN … COMMIT; any error rolls back. */
export async function transaction<T>(ctx: PgStoreContext, fn: (q: Query) => Promise<T>): Promise<T> {
  let client: pg.PoolClient
  try {
    client = await ctx.pool().connect()
  } catch (error) {
    throw translateError(error)
  }
  const q: Query = async (text, values) => (await client.query(text, values)).rows
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await fn(q)
    await client.query('COMMIT')
    return result
  } catch (error) {
    try {
      await client.query('ROLLBACK')
    } catch (rollbackError) {
      // The connection itself failed: do not hand it back to the pool.
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
    }
    throw translateError(error)
  } finally {
    client.release(broken)
  }
}

export async function updateRow<R extends pg.QueryResultRow, P extends object>(
  ctx: PgStoreContext,
  tableName: string,
  columns: Record<keyof P, { column: string; cast: Cast }>,
  what: string,
  id: string,
  patch: P,
): Promise<R> {
  const { sets, values } = assignments(columns, patch)
  const n = values.length
  const rows = await ctx.query<R>(
    `UPDATE ${tableName} SET ${[...sets, `updated_at = $${n + 1}`].join(', ')} WHERE id = $${n + 2} RETURNING *`,
    [...values, ctx.isoNow(), id],
  )
  const row = rows[0]
  if (!row) throw new BridgeError('NOT_FOUND', `${what} ${id} not found`)
  return row
}

export function ownerOf(row: OwnerRow): LedgerOwner {
  return { itemId: row.item_id, state: row.state, recordId: row.record_id }
}

export function single<R>(rows: R[], what: string): R {
  const row = rows[0]
  if (row === undefined) throw new BridgeError('INTERNAL', `${what} is missing`)
  return row
}

export function assignments<P extends object>(
  columns: Record<keyof P, { column: string; cast: Cast }>,
  patch: P,
): { sets: string[]; values: unknown[] } {
  const sets: string[] = []
  const values: unknown[] = []
  for (const [key, value] of Object.entries(patch)) {
    const spec = columns[key as keyof P]
    // Unknown keys are ignored rather than interpolated: column names come only from the table above.
    if (spec === undefined || value === undefined) continue
    values.push(spec.cast === 'jsonb' ? toJson(value) : value)
    sets.push(`${spec.column} = $${values.length}${spec.cast ? `::${spec.cast}` : ''}`)
  }
  return { sets, values }
}

/** JSON goes in as text: pg would otherwise send a JS array as a PostgreSQL array, not as JSON. */
export function toJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value)
}

// JSONB arrives decoded by pg.
const decoded: JsonDecoder<unknown> = <T>(value: unknown) => (value ?? null) as T | null

export type RunRow = RunRowOf<unknown>
export type ItemRow = ItemRowOf<unknown>
export const toRun = (row: RunRow): RunRecord => toRunRecord(row, decoded)
export const toItem = (row: ItemRow): ItemRecord => toItemRecord(row, decoded)
export type ReviewRow = ReviewRowOf<unknown>
export const toReview = (row: ReviewRow): ReviewRecord => toReviewRecord(row, decoded)
export type OutboxRow = OutboxRowOf<unknown>
export const toOutbox = (row: OutboxRow): OutboxMessage => toOutboxRecord(row, decoded)
