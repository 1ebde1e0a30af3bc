/**
 * Stage 2 of a status file: decide which rows are applied and which are
 * rejected, and why. Each row's values are checked and typed by the flow's
 * rules (pure, src/domain/status-file.ts), then its key is resolved to one
 * record; what comes out is the plan the later stages work from.
 */
import type { StatusFlow } from '../../config/schema.js'
import { parseExportCorrelationId } from '../../domain/correlation.js'
import { selectWhereIn } from '../../domain/soql.js'
import {
  type RawRow,
  type RowOutcome,
  rowSpecOf,
  type ValidatedRow,
  validateStatusRows,
} from '../../domain/status-file.js'
import type { ReturnedDocument, StatusContext, StatusDetail } from './detail.js'

type ResolveContext = Pick<StatusContext, 'store' | 'sf' | 'signal'>
type ValidRow = ValidatedRow & { ok: true }
type InvalidRow = ValidatedRow & { ok: false }
type Resolution = { recordId: string } | { code: string; message: string }

/** The plan of a parsed file: rows to update, rejected rows with their reason, documents to queue. */
export async function validateRows(
  ctx: ResolveContext,
  flow: StatusFlow,
  raw: readonly RawRow[],
): Promise<StatusDetail> {
  const rows = validateStatusRows(raw, rowSpecOf(flow))
  const valid = rows.filter((r): r is ValidRow => r.ok)
  const resolved = await resolveKeys(ctx, flow, [...new Set(valid.map((r) => r.key))])
  const outcomes: RowOutcome[] = rows.filter((r): r is InvalidRow => !r.ok).map(rejected)
  const pending: StatusDetail['pending'] = []
  const documents: ReturnedDocument[] = []
  const byRecord = new Map<string, number>()
  for (const row of valid) {
    const target = resolved.get(row.key)
    if (!target || 'code' in target) {
      outcomes.push(unresolved(flow, row, target))
      continue
    }
    const earlier = byRecord.get(target.recordId.slice(0, 15))
    if (earlier !== undefined) {
      // Two keys naming one record (an external id and its Id, say): one collections call cannot hold both.
      outcomes.push(sameRecord(flow, row, target.recordId, earlier))
      continue
    }
    byRecord.set(target.recordId.slice(0, 15), row.index)
    if (Object.keys(row.fields).length > 0) {
      pending.push({ index: row.index, key: row.key, recordId: target.recordId, fields: row.fields })
    } else {
      outcomes.push(appliedAsIs(row, target.recordId))
    }
    if (row.document !== null)
      documents.push({ index: row.index, name: row.document, itemId: null, recordId: target.recordId })
  }
  return {
    kind: 'status-file',
    rowsTotal: rows.length,
    rowsApplied: outcomes.filter((o) => o.outcome === 'applied').length,
    rowsRejected: outcomes.filter((o) => o.outcome === 'rejected').length,
    chunksDone: 0,
    pending,
    outcomes,
    documents,
    reportPath: null,
  }
}

/** A row the flow's rules refused. */
function rejected(row: InvalidRow): RowOutcome {
  return {
    index: row.index,
    key: row.key,
    outcome: 'rejected',
    code: row.code,
    field: row.field,
    message: row.message,
    recordId: null,
    documentFileId: null,
  }
}

/** A row whose key names no record, or more than one. */
function unresolved(flow: StatusFlow, row: ValidRow, target: Resolution | undefined): RowOutcome {
  const refusal = target && 'code' in target ? target : undefined
  return {
    index: row.index,
    key: row.key,
    outcome: 'rejected',
    code: refusal?.code ?? 'UNKNOWN_RECORD',
    field: flow.key.column,
    message: `row ${row.index}: ${refusal?.message ?? 'record not found'}`,
    recordId: null,
    documentFileId: null,
  }
}

/** A row naming the record an earlier row already updates. */
function sameRecord(flow: StatusFlow, row: ValidRow, recordId: string, earlier: number): RowOutcome {
  return {
    index: row.index,
    key: row.key,
    outcome: 'rejected',
    code: 'DUPLICATE_KEY',
    field: flow.key.column,
    message: `row ${row.index}: updates the same ${flow.object} ${recordId} as row ${earlier}`,
    recordId,
    documentFileId: null,
  }
}

/** A row with no fields to set (only a document, say): nothing to update, so applied now. */
function appliedAsIs(row: ValidRow, recordId: string): RowOutcome {
  return {
    index: row.index,
    key: row.key,
    outcome: 'applied',
    code: null,
    field: null,
    message: null,
    recordId,
    documentFileId: null,
  }
}

/** Row key → record id, for the rows that name one that exists. One SOQL per URL-sized chunk. */
async function resolveKeys(
  ctx: ResolveContext,
  flow: StatusFlow,
  keys: string[],
): Promise<Map<string, Resolution>> {
  if (flow.key.by === 'id') return new Map(keys.map((key) => [key, { recordId: key }]))
  if (flow.key.by === 'correlationId') return resolveCorrelationIds(ctx, keys)
  return resolveByField(ctx, flow, flow.key.field as string, keys)
}

async function resolveCorrelationIds(ctx: ResolveContext, keys: string[]): Promise<Map<string, Resolution>> {
  const resolved = new Map<string, Resolution>()
  // A rejection's id names its record; an exported file's names the job item that delivered it.
  const exported = keys.flatMap((key) => {
    const parsed = parseExportCorrelationId(key)
    return parsed ? [[key, `export:${parsed.jobId}:${parsed.fileId}`] as const] : []
  })
  const owners = await ctx.store.ledgerOwners(exported.map(([, ledger]) => ledger))
  for (const [key, ledger] of exported) {
    // The ledger answers even after retention pruned the job's item: it keeps the record id.
    const recordId = owners.get(ledger)?.recordId
    resolved.set(
      key,
      recordId
        ? { recordId }
        : { code: 'UNKNOWN_RECORD', message: `no exported file has correlation id ${key}` },
    )
  }
  for (const key of keys.filter((k) => !resolved.has(k))) {
    const review = await ctx.store.getReview(key)
    resolved.set(
      key,
      review
        ? { recordId: review.recordId }
        : { code: 'UNKNOWN_RECORD', message: `no rejection has correlation id ${key}` },
    )
  }
  return resolved
}

/** Matched case-insensitively; a key that names two records is ambiguous, not applied to either. */
async function resolveByField(
  ctx: ResolveContext,
  flow: StatusFlow,
  field: string,
  keys: string[],
): Promise<Map<string, Resolution>> {
  const found = new Map<string, string[]>()
  for (const soql of selectWhereIn({ object: flow.object, fields: ['Id', field], field, values: keys })) {
    for (const record of await ctx.sf.query<Record<string, unknown>>(soql, { signal: ctx.signal })) {
      const value = String(record[field] ?? '').toLowerCase()
      found.set(value, [...(found.get(value) ?? []), String(record.Id)])
    }
  }
  const resolved = new Map<string, Resolution>()
  for (const key of keys) {
    const ids = found.get(key.toLowerCase()) ?? []
    resolved.set(
      key,
      ids.length === 1
        ? { recordId: ids[0] as string }
        : ids.length === 0
          ? { code: 'UNKNOWN_RECORD', message: `no ${flow.object} has ${field} = "${key}"` }
          : {
              code: 'AMBIGUOUS_RECORD',
              message: `${ids.length} ${flow.object} records have ${field} = "${key}"`,
            },
    )
  }
  return resolved
}
