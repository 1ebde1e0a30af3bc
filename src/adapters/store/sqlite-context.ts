/** What the SQLite store's statements share: the connection, ids and clock, and the row codecs. */
import type { ItemRecord, OutboxMessage, ReviewRecord, RunRecord } from '../../ports/store.js'
import type { IdGenerator } from './ids.js'
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
import type { SqliteConnection } from './sqlite-connection.js'

export interface SqliteStoreContext {
  /** The open database, for reads. */
  db: SqliteConnection['db']
  write: SqliteConnection['write']
  writeNow: SqliteConnection['writeNow']
  nextId: IdGenerator
  isoNow: () => string
}

export function runRow(ctx: SqliteStoreContext, id: string): RunRow | undefined {
  return ctx.db().prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?').get(id)
}

export function reviewRow(ctx: SqliteStoreContext, correlationId: string): ReviewRow | undefined {
  return ctx
    .db()
    .prepare<[string], ReviewRow>('SELECT * FROM reviews WHERE correlation_id = ?')
    .get(correlationId)
}

export function itemRow(ctx: SqliteStoreContext, id: string): ItemRow | undefined {
  return ctx.db().prepare<[string], ItemRow>('SELECT * FROM items WHERE id = ?').get(id)
}

export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ')
}

export function assignments<P extends object>(
  columns: Record<keyof P, { column: string; json: boolean }>,
  patch: P,
): { sets: string[]; values: unknown[] } {
  const sets: string[] = []
  const values: unknown[] = []
  for (const [key, value] of Object.entries(patch)) {
    const spec = columns[key as keyof P]
    // Unknown keys are ignored rather than interpolated: column names come only from the table above.
    if (spec === undefined || value === undefined) continue
    sets.push(`${spec.column} = ?`)
    values.push(spec.json ? toJson(value) : value)
  }
  return { sets, values }
}

export function toJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value)
}

const fromJsonText: JsonDecoder<string | null> = <T>(text: string | null) =>
  text === null ? null : (JSON.parse(text) as T)

export type RunRow = RunRowOf<string | null>
export type ItemRow = ItemRowOf<string | null>
export const toRun = (row: RunRow): RunRecord => toRunRecord(row, fromJsonText)
export const toItem = (row: ItemRow): ItemRecord => toItemRecord(row, fromJsonText)
export type ReviewRow = ReviewRowOf<string>
export const toReview = (row: ReviewRow): ReviewRecord => toReviewRecord(row, fromJsonText)
export type OutboxRow = OutboxRowOf<string | null>
export const toOutbox = (row: OutboxRow): OutboxMessage => toOutboxRecord(row, fromJsonText)
