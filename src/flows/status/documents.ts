/**
 * After the updates: the documents returned with applied rows become items
 * of the same run, their target preset to the row's record, so the ordinary
 * transfer path uploads each exactly once.
 */
import { posix } from 'node:path'
import type { StatusFlow } from '../../config/schema.js'
import { ledgerKey } from '../../domain/readiness.js'
import type { RowOutcome } from '../../domain/status-file.js'
import type { RemoteEntry } from '../../ports/remote-files.js'
import type { ItemRecord, NewItem } from '../../ports/store.js'
import { type ReturnedDocument, type StatusContext, type StatusDetail, saveStatusDetail } from './detail.js'

type DocumentsContext = Pick<StatusContext, 'store' | 'remote' | 'signal'>
type DocumentRules = NonNullable<StatusFlow['document']>

/**
 * Queues the returned documents of applied rows not queued yet. A document
 * missing beside the status file is reported on its row; the row's fields
 * stay applied.
 */
export async function queueDocuments(
  ctx: DocumentsContext,
  flow: StatusFlow,
  item: ItemRecord,
  detail: StatusDetail,
): Promise<StatusDetail> {
  const failedRows = new Set(detail.outcomes.filter((o) => o.outcome === 'rejected').map((o) => o.index))
  const wanted = detail.documents.filter((d) => d.itemId === null && !failedRows.has(d.index))
  const rules = flow.document
  if (wanted.length === 0 || !rules) return detail
  const dir = posix.dirname(item.path)
  const entries = new Map(
    (await ctx.remote.list(dir, { signal: ctx.signal }))
      .filter((e) => e.type === 'file')
      .map((e) => [e.name, e]),
  )
  const outcomes = [...detail.outcomes]
  const newItems: NewItem[] = []
  for (const doc of wanted) {
    const entry = entries.get(doc.name)
    if (entry) newItems.push(documentItem(flow.object, rules, item, doc, entry))
    else outcomes.push(missingDocument(rules, item, doc))
  }
  const { added, duplicates } = await ctx.store.addItems(item.runId, newItems)
  const byPath = new Map<string, string>([
    ...added.map((a) => [a.path, a.id] as const),
    ...duplicates.map((d) => [d.item.path, d.ownerItemId] as const),
  ])
  const documents = detail.documents.map((doc) => {
    const itemId = byPath.get(posix.join(dir, doc.name))
    return doc.itemId === null && itemId ? { ...doc, itemId } : doc
  })
  const next = {
    ...detail,
    outcomes,
    documents,
    rowsRejected: outcomes.filter((o) => o.outcome === 'rejected').length,
  }
  await saveStatusDetail(ctx.store, item.id, next)
  return next
}

function missingDocument(rules: DocumentRules, item: ItemRecord, doc: ReturnedDocument): RowOutcome {
  return {
    index: doc.index,
    key: null,
    outcome: 'rejected',
    code: 'DOCUMENT_NOT_FOUND',
    field: rules.column,
    message: `row ${doc.index}: the returned document "${doc.name}" is not beside ${item.name} (the row's fields were applied)`,
    recordId: doc.recordId,
    documentFileId: null,
  }
}

/** The item that uploads a returned document to its row's record. */
function documentItem(
  object: string,
  rules: DocumentRules,
  item: ItemRecord,
  doc: ReturnedDocument,
  entry: RemoteEntry,
): NewItem {
  const path = posix.join(posix.dirname(item.path), doc.name)
  return {
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
      object,
      recordId: doc.recordId,
      fileObject: rules.fileObject,
      parentField: rules.parentField,
      folder: rules.folder ?? null,
      description: rules.description ?? null,
    },
  }
}
