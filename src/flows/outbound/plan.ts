/**
 * Planning a job: the S-Drive files it exports, each made an item with its
 * rendered destination path. Done once per job; a resumed job goes on with
 * the items it has.
 */
import { posix } from 'node:path'
import picomatch from 'picomatch'
import type { OutboundFlow } from '../../config/schema.js'
import { toBridgeError } from '../../domain/errors.js'
import { recordFieldsOf, renderOutboundTemplate } from '../../domain/outbound-template.js'
import { sanitizeRemotePath, sanitizeRemoteSegment } from '../../domain/remote-names.js'
import { QUERY_URL_BUDGET, selectWhereIn, urlLength } from '../../domain/soql.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { SDrive, SDriveFile } from '../../ports/sdrive.js'
import type { NewItem, RunNote, RunRecord } from '../../ports/store.js'
import type { OutboundDeps } from './deps.js'
import { type ExportRequest, requestOf } from './request.js'
import { templateValues } from './templates.js'
import { type Batch, timeZoneOf } from './windows.js'

/** The files a job exports: by record (the flow's selection) and/or by id. One query each. */
export async function selectFiles(
  sdrive: SDrive,
  flow: OutboundFlow,
  request: ExportRequest,
  signal: AbortSignal,
): Promise<SDriveFile[]> {
  const { fileObject, parentField } = flow.source
  const byRecord = request.recordIds?.length
    ? await sdrive.findFiles(fileObject, parentField, request.recordIds, undefined, { signal })
    : []
  const byId = request.fileIds?.length
    ? await sdrive.filesByIds(fileObject, parentField, request.fileIds, { signal })
    : []
  let files = [...new Map([...byRecord, ...byId].map((f) => [f.id, f])).values()]
  if (flow.source.folder) {
    const folders = await sdrive.rootFolders(
      fileObject,
      parentField,
      [...new Set(files.map((f) => f.parentId))],
      flow.source.folder,
      { signal },
    )
    const folderIds = new Set(folders.map((f) => f.id))
    files = files.filter((f) => f.folderId !== null && folderIds.has(f.folderId))
  }
  const include = picomatch(flow.source.include, { nocase: true, dot: true })
  const exclude =
    flow.source.exclude.length > 0 ? picomatch(flow.source.exclude, { nocase: true }) : () => false
  files = files.filter((f) => include(f.fileName) && !exclude(f.fileName))
  if (flow.source.contentTypes) {
    const types = flow.source.contentTypes.map((t) => picomatch(t, { nocase: true }))
    files = files.filter((f) => f.contentType !== null && types.some((m) => m(f.contentType as string)))
  }
  return files.sort((a, b) => a.fileName.localeCompare(b.fileName)).slice(0, flow.source.maxFilesPerJob)
}

/** Record fields the templates and the manifest use: one SOQL per job. */
export async function fetchRecords(
  sf: SalesforceApi,
  flow: OutboundFlow,
  recordIds: string[],
  signal: AbortSignal,
): Promise<Map<string, Record<string, unknown>>> {
  const fields = recordFieldsOf([
    flow.destination.directory,
    flow.destination.fileName,
    flow.window?.batchFolder,
    ...(flow.manifest?.recordFields.map((f) => `{${f}}`) ?? []),
  ])
  const out = new Map<string, Record<string, unknown>>()
  if (recordIds.length === 0) return out
  const queries = selectWhereIn({
    fields: ['Id', ...fields],
    object: flow.source.object,
    field: 'Id',
    values: [...new Set(recordIds)],
    maxChars: QUERY_URL_BUDGET,
    measure: urlLength,
  })
  for (const rows of await Promise.all(queries.map((q) => sf.query(q, { signal })))) {
    for (const row of rows) out.set(String(row.Id).slice(0, 15), row)
  }
  return out
}

function itemFor(
  flow: OutboundFlow,
  file: SDriveFile,
  path: string,
  name: string,
  ledgerKey: string,
): NewItem {
  return {
    endpoint: flow.destination.endpoint,
    path,
    name,
    size: file.sizeBytes ?? 0,
    modifiedAt: 0,
    ledgerKey,
    target: {
      object: flow.source.object,
      recordId: file.parentId,
      fileObject: flow.source.fileObject,
      parentField: flow.source.parentField,
      folder: null,
      description: null,
      fileId: file.id,
    },
  }
}

/** The file's item: its destination rendered, or failed with why it cannot be named. */
function plannedItem(
  flow: OutboundFlow,
  job: RunRecord,
  file: SDriveFile,
  batch: Batch | null,
  record: Record<string, unknown> | null,
  now: number,
): { item: NewItem; failure: string | null } {
  const ctx = { values: templateValues(flow, job, file, batch), record, now, timeZone: timeZoneOf(flow) }
  const key = `export:${job.id}:${file.id}`
  try {
    let directory = renderOutboundTemplate(flow.destination.directory, ctx)
    if (batch) directory = posix.join(directory, batch.folder)
    const dir = sanitizeRemotePath(directory, flow.destination.replacement)
    // An encrypted file is delivered under its name with the PGP suffix (".pgp"), as recipients expect.
    const name = sanitizeRemoteSegment(
      renderOutboundTemplate(flow.destination.fileName, ctx) + (flow.pgp?.suffix ?? ''),
      flow.destination.replacement,
    )
    return { item: itemFor(flow, file, posix.join(dir, name), name, key), failure: null }
  } catch (error) {
    const e = toBridgeError(error, 'VALIDATION_FAILED')
    return {
      item: {
        ...itemFor(flow, file, `/${file.fileName}`, file.fileName, key),
        state: 'failed',
        error: { code: e.code, message: e.message },
      },
      failure: e.message,
    }
  }
}

/** Creates the job's items: one per selected file, with its rendered destination. No file: a note, no item. */
export async function planJob(
  deps: OutboundDeps,
  flow: OutboundFlow,
  job: RunRecord,
  batch: Batch | null,
  signal: AbortSignal,
): Promise<void> {
  const files = await selectFiles(deps.sdrive, flow, requestOf(job), signal)
  if (files.length === 0) {
    // The job ends nothing_to_export (see drive): nothing was delivered, so it is not reported as a success.
    const note: RunNote = {
      path: '',
      reason: 'NOT_READY',
      message: 'no S-Drive files matched the flow selection for this request',
    }
    await deps.store.updateRun(job.id, { notes: [note] })
    return
  }
  const records = await fetchRecords(deps.sf, flow, [...new Set(files.map((f) => f.parentId))], signal)
  const now = deps.clock.now()
  const planned = files.map((file) =>
    plannedItem(flow, job, file, batch, records.get(file.parentId.slice(0, 15)) ?? null, now),
  )
  await deps.store.addItems(
    job.id,
    planned.map((p) => p.item),
  )
  for (const { failure } of planned) {
    if (failure !== null)
      deps.logger.warn({ job: job.id, err: failure }, 'file cannot be named for the destination')
  }
}
