/**
 * Applies one status file of a `status` flow, stage by stage: parse (read
 * it, bounded), validate (check every row and resolve its record), apply
 * (update the records with sObject Collections, ≤ 200 per call, one call per
 * 200 rows, each row's outcome kept), then queue the returned documents as
 * items of the same run, which the ordinary transfer path uploads to the
 * row's record exactly once. The report of rejected rows is written after
 * the file is disposed of (report.ts).
 *
 * Progress is saved after every collections call, so a retried or resumed
 * run does not apply a chunk twice; only a crash between a call and its
 * save repeats that one chunk, with the same values.
 */
import type { StatusFlow } from '../../config/schema.js'
import type { RowOutcome } from '../../domain/status-file.js'
import type { SaveResult } from '../../ports/salesforce.js'
import type { ItemRecord } from '../../ports/store.js'
import {
  type PendingRow,
  type StatusContext,
  type StatusDetail,
  saveStatusDetail,
  statusDetailOf,
} from './detail.js'
import { queueDocuments } from './documents.js'
import { parseStatusItem } from './parse.js'
import { validateRows } from './validate.js'

/** Records per sObject Collections call (the API's limit). */
export const COLLECTION_SIZE = 200

/** Salesforce's per-record codes that mean the record is not there. */
const MISSING_RECORD = new Set([
  'ENTITY_IS_DELETED',
  'INVALID_CROSS_REFERENCE_KEY',
  'NOT_FOUND',
  'INVALID_ID_FIELD',
  'MALFORMED_ID',
])

/**
 * Takes a status file as far as it goes: planned, applied, documents
 * queued. Throws (transient or not) for the caller's retry policy; returns
 * the finished detail.
 */
export async function applyStatusFile(
  ctx: StatusContext,
  flow: StatusFlow,
  item: ItemRecord,
): Promise<StatusDetail> {
  let detail = statusDetailOf(item)
  if (detail === null) {
    detail = await validateRows(ctx, flow, await parseStatusItem(ctx, flow, item))
    countRows(ctx, flow, 'rejected', detail.rowsRejected)
    countRows(ctx, flow, 'applied', detail.rowsApplied)
    await saveStatusDetail(ctx.store, item.id, detail)
  }
  detail = await applyChunks(ctx, flow, item, detail)
  return queueDocuments(ctx, flow, item, detail)
}

/** One collections call per remaining chunk; the detail is saved after each. */
async function applyChunks(
  ctx: StatusContext,
  flow: StatusFlow,
  item: ItemRecord,
  detail: StatusDetail,
): Promise<StatusDetail> {
  let current = detail
  for (let chunk = current.chunksDone; chunk * COLLECTION_SIZE < current.pending.length; chunk++) {
    const rows = current.pending.slice(chunk * COLLECTION_SIZE, (chunk + 1) * COLLECTION_SIZE)
    const results = await ctx.sf.updateRecords(
      flow.object,
      rows.map((r) => ({ ...r.fields, Id: r.recordId })),
      { signal: ctx.signal },
    )
    const outcomes = rows.map((row, i) => rowOutcome(flow, row, results[i]))
    const applied = outcomes.filter((o) => o.outcome === 'applied').length
    countRows(ctx, flow, 'applied', applied)
    countRows(ctx, flow, 'rejected', outcomes.length - applied)
    current = {
      ...current,
      chunksDone: chunk + 1,
      outcomes: [...current.outcomes, ...outcomes],
      rowsApplied: current.rowsApplied + applied,
      rowsRejected: current.rowsRejected + outcomes.length - applied,
    }
    await saveStatusDetail(ctx.store, item.id, current)
  }
  return current
}

/** What Salesforce's answer for one record means for its row. */
function rowOutcome(flow: StatusFlow, row: PendingRow, result: SaveResult | undefined): RowOutcome {
  const ok = result?.success === true
  const first = result?.errors[0]
  const code = ok
    ? null
    : MISSING_RECORD.has(first?.statusCode ?? '')
      ? 'UNKNOWN_RECORD'
      : (first?.statusCode ?? 'SALESFORCE_ERROR')
  return {
    index: row.index,
    key: row.key,
    outcome: ok ? 'applied' : 'rejected',
    code,
    field: first?.fields?.[0] ?? null,
    message: ok
      ? null
      : `row ${row.index}: Salesforce refused the update of ${flow.object} ${row.recordId}: ${(result?.errors ?? []).map((e) => e.message).join('; ') || 'no result'}`,
    recordId: row.recordId,
    documentFileId: null,
  }
}

function countRows(
  ctx: Pick<StatusContext, 'events'>,
  flow: StatusFlow,
  outcome: 'applied' | 'rejected',
  count: number,
): void {
  ctx.events.emit({ type: 'status-rows', flow: flow.name, outcome, count })
}
