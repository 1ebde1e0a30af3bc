/** GET …/query, …/queryAll and the nextRecordsUrl cursors. */
import { randomBytes } from 'node:crypto'
import { type ApiResult, sfError } from './http.js'
import { runSoql } from './soql.js'
import { SoqlError } from './soql-values.js'
import type { RecordStore, SObjectRecord } from './store.js'

interface Cursor {
  records: SObjectRecord[]
  totalSize: number
  batchSize: number
}

const DEFAULT_BATCH = 2000
const MIN_BATCH = 200
/** Old cursors are dropped like expired query locators, so long runs don't pile up memory. */
const MAX_OPEN_CURSORS = 100

export function batchSizeFrom(header: string | undefined): number {
  const match = header ? /batchSize\s*=\s*(\d+)/i.exec(header) : null
  if (!match) return DEFAULT_BATCH
  return Math.min(DEFAULT_BATCH, Math.max(MIN_BATCH, Number(match[1])))
}

export class QueryApi {
  private readonly cursors = new Map<string, Cursor>()

  constructor(private readonly store: RecordStore) {}

  query(soql: string | null, includeDeleted: boolean, batchSize: number, apiVersion: string): ApiResult {
    if (!soql) return sfError(400, 'MALFORMED_QUERY', 'A query string has to be specified')
    try {
      const outcome = runSoql(this.store, soql, { includeDeleted, apiVersion })
      const cursorId = `01g${randomBytes(8).toString('hex').slice(0, 15)}`
      return this.page(cursorId, { ...outcome, batchSize }, 0, apiVersion)
    } catch (error) {
      if (error instanceof SoqlError) return sfError(400, error.errorCode, error.message)
      throw error
    }
  }

  /** `locator` is `<cursorId>-<offset>` from a nextRecordsUrl. */
  queryMore(locator: string, apiVersion: string): ApiResult {
    const match = /^(.+)-(\d+)$/.exec(locator)
    const cursor = match ? this.cursors.get(match[1]!) : undefined
    if (!match || !cursor) return sfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator')
    return this.page(match[1]!, cursor, Number(match[2]), apiVersion)
  }

  private page(cursorId: string, cursor: Cursor, offset: number, apiVersion: string): ApiResult {
    const records = cursor.records.slice(offset, offset + cursor.batchSize)
    const next = offset + records.length
    const done = next >= cursor.records.length
    if (!done && !this.cursors.has(cursorId)) {
      this.cursors.set(cursorId, cursor)
      if (this.cursors.size > MAX_OPEN_CURSORS) this.cursors.delete(this.cursors.keys().next().value!)
    }
    const body: Record<string, unknown> = { totalSize: cursor.totalSize, done }
    if (!done) body.nextRecordsUrl = `/services/data/v${apiVersion}/query/${cursorId}-${next}`
    body.records = records
    return { status: 200, body }
  }
}
