/**
 * Applies one status file of a `status` flow: read it (bounded), parse and
 * validate every row (pure, src/domain/status-file.ts), resolve each row's
 * record, update the records with sObject Collections (≤ 200 per call, one
 * call per 200 rows, each row's outcome kept), and turn returned documents
 * into items of the same run, which the ordinary transfer path uploads to
 * the row's record exactly once.
 *
 * Progress is saved after every collections call, so a retried or resumed
 * run does not apply a chunk twice; only a crash between a call and its
 * save repeats that one chunk, with the same values.
 */
import { posix } from 'node:path'
import type { Logger } from 'pino'
import type { StatusFlow } from '../config/schema.js'
import { parseExportCorrelationId } from '../domain/correlation.js'
import { BridgeError, toBridgeError } from '../domain/errors.js'
import { ledgerKey } from '../domain/readiness.js'
import { selectWhereIn } from '../domain/soql.js'
import {
  parseStatusFile,
  type RowOutcome,
  renderErrorReport,
  rowSpecOf,
  type ValidatedRow,
  validateStatusRows,
} from '../domain/status-file.js'
import type { BridgeMetrics } from '../ports/metrics.js'
import type { RemoteFiles } from '../ports/remote-files.js'
import type { SalesforceApi } from '../ports/salesforce.js'
import type { ItemRecord, NewItem, Store } from '../ports/store.js'
import { writeTextFile } from '../transfer/remote-delivery.js'

/** Records per sObject Collections call (the API's limit). */
export const COLLECTION_SIZE = 200

/** What a status file's item keeps in its detail column. */
export interface StatusDetail {
  kind: 'status-file'
  rowsTotal: number
  rowsApplied: number
  rowsRejected: number
  /** Collections calls already made and saved (resume point). */
  chunksDone: number
  /** Rows ready to apply, in call order: index, record id, fields. */
  pending: { index: number; key: string; recordId: string; fields: Record<string, unknown> }[]
  outcomes: RowOutcome[]
  /** The source file was moved/deleted/kept per after.success (finalPath holds where). */
  disposed?: boolean
  /** Returned documents: row → the item that uploads it. */
  documents: { index: number; name: string; itemId: string | null; recordId: string }[]
  reportPath: string | null
}

export interface StatusContext {
  store: Store
  sf: SalesforceApi
  remote: RemoteFiles
  metrics: BridgeMetrics
  logger: Logger
  signal: AbortSignal
}

export function statusDetailOf(item: ItemRecord): StatusDetail | null {
  return item.detail?.kind === 'status-file' ? (item.detail as unknown as StatusDetail) : null
}

async function readBounded(ctx: StatusContext, item: ItemRecord, maxBytes: number): Promise<Buffer> {
  if (item.size > maxBytes) {
    throw new BridgeError(
      'STATUS_FILE_TOO_LARGE',
      `${item.name} is ${item.size} bytes; status files are limited to ${maxBytes} (format.maxBytes)`,
    )
  }
  return ctx.remote.read(
    item.path,
    async (stream) => {
      const chunks: Buffer[] = []
      let total = 0
      for await (const chunk of stream) {
        total += (chunk as Buffer).length
        if (total > maxBytes) {
          stream.destroy()
          throw new BridgeError(
            'STATUS_FILE_TOO_LARGE',
            `${item.name} grew beyond ${maxBytes} bytes while read`,
          )
        }
        chunks.push(chunk as Buffer)
      }
      return Buffer.concat(chunks)
    },
    { signal: ctx.signal },
  )
}

function rejected(row: ValidatedRow & { ok: false }): RowOutcome {
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

/** Row key → record id, for the rows that name one that exists. One SOQL per URL-sized chunk. */
async function resolveKeys(
  ctx: StatusContext,
  flow: StatusFlow,
  keys: string[],
): Promise<Map<string, { recordId: string } | { code: string; message: string }>> {
  const resolved = new Map<string, { recordId: string } | { code: string; message: string }>()
  if (flow.key.by === 'id') {
    for (const key of keys) resolved.set(key, { recordId: key })
    return resolved
  }
  if (flow.key.by === 'correlationId') {
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
  const field = flow.key.field as string
  const found = new Map<string, string[]>()
  for (const soql of selectWhereIn({ object: flow.object, fields: ['Id', field], field, values: keys })) {
    for (const record of await ctx.sf.query<Record<string, unknown>>(soql, { signal: ctx.signal })) {
      const value = String(record[field] ?? '').toLowerCase()
      found.set(value, [...(found.get(value) ?? []), String(record.Id)])
    }
  }
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

/** Parses, validates and resolves the file: the plan every later step works from. */
async function plan(ctx: StatusContext, flow: StatusFlow, item: ItemRecord): Promise<StatusDetail> {
  const bytes = await readBounded(ctx, item, flow.format.maxBytes)
  const parsed = parseStatusFile(bytes, flow.format)
  if (!parsed.ok) throw new BridgeError(parsed.code, `${item.name}: ${parsed.message}`)
  const rows = validateStatusRows(parsed.rows, rowSpecOf(flow))
  const valid = rows.filter((r): r is ValidatedRow & { ok: true } => r.ok)
  const resolved = await resolveKeys(ctx, flow, [...new Set(valid.map((r) => r.key))])
  const outcomes: RowOutcome[] = rows.filter((r): r is ValidatedRow & { ok: false } => !r.ok).map(rejected)
  const pending: StatusDetail['pending'] = []
  const documents: StatusDetail['documents'] = []
  const byRecord = new Map<string, number>()
  for (const row of valid) {
    const target = resolved.get(row.key)
    if (!target || 'code' in target) {
      outcomes.push({
        index: row.index,
        key: row.key,
        outcome: 'rejected',
        code: target?.code ?? 'UNKNOWN_RECORD',
        field: flow.key.column,
        message: `row ${row.index}: ${target?.message ?? 'record not found'}`,
        recordId: null,
        documentFileId: null,
      })
      continue
    }
    const earlier = byRecord.get(target.recordId.slice(0, 15))
    if (earlier !== undefined) {
      // Two keys naming one record (an external id and its Id, say): one collections call cannot hold both.
      outcomes.push({
        index: row.index,
        key: row.key,
        outcome: 'rejected',
        code: 'DUPLICATE_KEY',
        field: flow.key.column,
        message: `row ${row.index}: updates the same ${flow.object} ${target.recordId} as row ${earlier}`,
        recordId: target.recordId,
        documentFileId: null,
      })
      continue
    }
    byRecord.set(target.recordId.slice(0, 15), row.index)
    if (Object.keys(row.fields).length > 0) {
      pending.push({ index: row.index, key: row.key, recordId: target.recordId, fields: row.fields })
    } else {
      outcomes.push({
        index: row.index,
        key: row.key,
        outcome: 'applied',
        code: null,
        field: null,
        message: null,
        recordId: target.recordId,
        documentFileId: null,
      })
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

/** Salesforce's per-record codes that mean the record is not there. */
const MISSING_RECORD = new Set([
  'ENTITY_IS_DELETED',
  'INVALID_CROSS_REFERENCE_KEY',
  'NOT_FOUND',
  'INVALID_ID_FIELD',
  'MALFORMED_ID',
])

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
    const outcomes = rows.map((row, i): RowOutcome => {
      const result = results[i]
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
    })
    const applied = outcomes.filter((o) => o.outcome === 'applied').length
    ctx.metrics.statusRows(flow.name, 'applied', applied)
    ctx.metrics.statusRows(flow.name, 'rejected', outcomes.length - applied)
    current = {
      ...current,
      chunksDone: chunk + 1,
      outcomes: [...current.outcomes, ...outcomes],
      rowsApplied: current.rowsApplied + applied,
      rowsRejected: current.rowsRejected + outcomes.length - applied,
    }
    await ctx.store.updateItem(item.id, { detail: current as unknown as Record<string, unknown> })
  }
  return current
}

/**
 * Adds the returned documents of applied rows as items of the run (their
 * target preset to the row's record). A document missing beside the status
 * file is reported on its row; the row's fields stay applied.
 */
async function addDocuments(
  ctx: StatusContext,
  flow: StatusFlow,
  item: ItemRecord,
  detail: StatusDetail,
): Promise<StatusDetail> {
  const failedRows = new Set(detail.outcomes.filter((o) => o.outcome === 'rejected').map((o) => o.index))
  const wanted = detail.documents.filter((d) => d.itemId === null && !failedRows.has(d.index))
  if (wanted.length === 0 || !flow.document) return detail
  const dir = posix.dirname(item.path)
  const entries = new Map(
    (await ctx.remote.list(dir, { signal: ctx.signal }))
      .filter((e) => e.type === 'file')
      .map((e) => [e.name, e]),
  )
  const outcomes = [...detail.outcomes]
  const documents = [...detail.documents]
  const newItems: NewItem[] = []
  for (const doc of wanted) {
    const entry = entries.get(doc.name)
    if (!entry) {
      outcomes.push({
        index: doc.index,
        key: null,
        outcome: 'rejected',
        code: 'DOCUMENT_NOT_FOUND',
        field: flow.document.column,
        message: `row ${doc.index}: the returned document "${doc.name}" is not beside ${item.name} (the row's fields were applied)`,
        recordId: doc.recordId,
        documentFileId: null,
      })
      continue
    }
    const path = posix.join(dir, doc.name)
    newItems.push({
      endpoint: item.endpoint,
      path,
      name: doc.name,
      size: entry.size,
      modifiedAt: entry.modifiedAt,
      ledgerKey: ledgerKey(item.endpoint, {
        path,
        name: doc.name,
        size: entry.size,
        modifiedAt: entry.modifiedAt,
      }),
      target: {
        object: flow.object,
        recordId: doc.recordId,
        fileObject: flow.document.fileObject,
        parentField: flow.document.parentField,
        folder: flow.document.folder ?? null,
        description: flow.document.description ?? null,
      },
    })
  }
  const { added, duplicates } = await ctx.store.addItems(item.runId, newItems)
  const byPath = new Map<string, string>([
    ...added.map((a) => [a.path, a.id] as const),
    ...duplicates.map((d) => [d.item.path, d.ownerItemId] as const),
  ])
  for (let i = 0; i < documents.length; i++) {
    const doc = documents[i] as StatusDetail['documents'][number]
    const itemId = byPath.get(posix.join(dir, doc.name))
    if (doc.itemId === null && itemId) documents[i] = { ...doc, itemId }
  }
  const next = {
    ...detail,
    outcomes,
    documents,
    rowsRejected: outcomes.filter((o) => o.outcome === 'rejected').length,
  }
  await ctx.store.updateItem(item.id, { detail: next as unknown as Record<string, unknown> })
  return next
}

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
    detail = await plan(ctx, flow, item)
    ctx.metrics.statusRows(flow.name, 'rejected', detail.rowsRejected)
    ctx.metrics.statusRows(flow.name, 'applied', detail.rowsApplied)
    await ctx.store.updateItem(item.id, { detail: detail as unknown as Record<string, unknown> })
  }
  detail = await applyChunks(ctx, flow, item, detail)
  return addDocuments(ctx, flow, item, detail)
}

/** Writes the report of rejected rows beside where the status file ended up; returns its path. */
export async function writeErrorReport(
  ctx: StatusContext,
  flow: StatusFlow,
  item: ItemRecord,
  detail: StatusDetail,
  supportsRename: boolean,
): Promise<string | null> {
  if (detail.rowsRejected === 0 || detail.reportPath !== null) return detail.reportPath
  // Beside the file where it ended up: moved, kept in place, or (deleted) in the error folder.
  const dir = item.finalPath
    ? posix.dirname(item.finalPath)
    : flow.after.success === 'keep'
      ? posix.dirname(item.path)
      : flow.after.errorDirectory
  const report = renderErrorReport(
    flow.format.type,
    posix.basename(item.finalPath ?? item.name),
    detail.outcomes,
  )
  const path = posix.join(dir, report.fileName)
  try {
    await writeTextFile(ctx.remote, path, report.content, {
      atomic: true,
      tempSuffix: '.part',
      supportsRename,
      signal: ctx.signal,
    })
  } catch (error) {
    throw toBridgeError(error, 'REMOTE_IO')
  }
  return path
}

/** Names of status-flow error reports, which the flow must never read as status files. */
export function isErrorReport(name: string): boolean {
  return /\.errors\.(csv|json)$/i.test(name)
}
