/**
 * Outbound exports: S-Drive documents of Salesforce records delivered to a
 * recipient's FTP/SFTP server. A job is a run of an outbound flow; its
 * files are items (ledger key job + file, so a file is delivered once per
 * job). Accepting a job only writes it to the store; delivery happens in
 * the background, at once or at the flow's delivery window.
 */
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { posix } from 'node:path'
import { Cron } from 'croner'
import picomatch from 'picomatch'
import type { Logger } from 'pino'
import type { EndpointConfig, OutboundFlow } from '../config/schema.js'
import { backoffDelay } from '../domain/backoff.js'
import { exportCorrelationId } from '../domain/correlation.js'
import { BridgeError, isTransient, toBridgeError } from '../domain/errors.js'
import { displacedKey } from '../domain/idempotency-keys.js'
import { assertTransition, finalRunState } from '../domain/item-state.js'
import { type ManifestRow, renderManifest } from '../domain/manifest.js'
import {
  formatDate,
  recordFieldsOf,
  recordValue,
  renderOutboundTemplate,
} from '../domain/outbound-template.js'
import { looksLikeRecordId } from '../domain/record-ids.js'
import { sanitizeRemotePath, sanitizeRemoteSegment } from '../domain/remote-names.js'
import { QUERY_URL_BUDGET, selectWhereIn, urlLength } from '../domain/soql.js'
import type { Clock } from '../ports/clock.js'
import type { BridgeMetrics } from '../ports/metrics.js'
import type { RemoteRegistry } from '../ports/remote-files.js'
import type { SalesforceApi } from '../ports/salesforce.js'
import type { SDrive, SDriveFile } from '../ports/sdrive.js'
import type { ItemRecord, NewItem, RunNote, RunRecord, RunState, RunTrigger, Store } from '../ports/store.js'
import type { TransferQueue } from '../queue/transfer-queue.js'
import type { LeaseKeeper } from '../runs/lease-keeper.js'
import { settleWithin } from '../runs/task-set.js'
import { deliverFile, writeTextFile } from './remote-delivery.js'

export interface ExportRequest {
  recordIds?: string[]
  fileIds?: string[]
  metadata?: Record<string, string>
}

export interface ExportEngineDeps {
  flows: ReadonlyMap<string, OutboundFlow>
  endpoints: ReadonlyMap<string, EndpointConfig>
  store: Store
  remotes: RemoteRegistry
  sf: SalesforceApi
  sdrive: SDrive
  queue: TransferQueue
  clock: Clock
  logger: Logger
  metrics: BridgeMetrics
  maxQueuedItems: number
  /** Run leases: this process drives only the jobs it holds. */
  leases: LeaseKeeper
  /** How often to look for jobs nobody drives (a crashed replica's); default half a lease. */
  claimIntervalMs?: number
  maxActiveRuns?: number
}

export interface ExportEngine {
  submit(
    flow: string,
    request: ExportRequest,
    options: { trigger: RunTrigger; idempotencyKey?: string },
  ): Promise<{ job: RunRecord; created: boolean }>
  /**
   * Several submissions stored together (their writes share one commit) and
   * launched with one claim: what an Outbound Message of up to 100
   * notifications needs before its Ack. One result per entry, in order.
   */
  submitMany(
    flow: string,
    entries: { request: ExportRequest; idempotencyKey?: string }[],
    options: { trigger: RunTrigger },
  ): Promise<PromiseSettledResult<{ job: RunRecord; created: boolean }>[]>
  retry(jobId: string): Promise<{ job: RunRecord; retried: number }>
  cancel(jobId: string): Promise<RunRecord>
  /** Delivers every job of the flow whose window has come (what the window's cron tick calls). */
  releaseWindow(flow: string): Promise<string[]>
  recover(): Promise<void>
  startWindows(): void
  settled(jobId: string): Promise<void>
  isOutboundFlow(flow: string): boolean
  /**
   * What admission counts against queue.maxQueuedItems: files waiting or in
   * progress plus export jobs not finished (jobs paused for the API limit
   * included). bridge_queue_depth reports this same number.
   */
  queuedWork(): Promise<number>
  readonly events: EventEmitter
  /** Stops starting new deliveries, lets those in flight finish for up to graceMs, then aborts. */
  close(options?: { graceMs?: number }): Promise<void>
}

const ACTIVE: ItemRecord['state'][] = ['pending', 'transferring', 'finalizing']

function requestOf(job: RunRecord): ExportRequest {
  return (job.request ?? {}) as ExportRequest
}

/** Same request, same hash: the Idempotency-Key check compares these. */
export function exportRequestHash(flow: string, request: ExportRequest): string {
  const canonical = JSON.stringify({
    flow,
    recordIds: [...(request.recordIds ?? [])].sort(),
    fileIds: [...(request.fileIds ?? [])].sort(),
    metadata: Object.fromEntries(Object.entries(request.metadata ?? {}).sort()),
  })
  return createHash('sha256').update(canonical).digest('hex')
}

export function commonDirectory(dirs: readonly string[]): string {
  if (dirs.length === 0) return '/'
  const split = dirs.map((d) => d.split('/').filter((p) => p !== ''))
  const common: string[] = []
  for (let i = 0; ; i++) {
    const segment = split[0]?.[i]
    if (segment === undefined || !split.every((parts) => parts[i] === segment)) break
    common.push(segment)
  }
  return `/${common.join('/')}`
}

function validateRequest(request: ExportRequest): void {
  const recordIds = request.recordIds ?? []
  const fileIds = request.fileIds ?? []
  if (recordIds.length === 0 && fileIds.length === 0) {
    throw new BridgeError('VALIDATION_FAILED', 'body: recordIds or fileIds must name at least one id', {
      details: { field: 'body.recordIds' },
    })
  }
  for (const [field, ids] of [
    ['recordIds', recordIds],
    ['fileIds', fileIds],
  ] as const) {
    ids.forEach((id, i) => {
      if (!looksLikeRecordId(id)) {
        throw new BridgeError(
          'VALIDATION_FAILED',
          `body.${field}[${i}]: "${id}" is not a Salesforce record id`,
          {
            details: { field: `body.${field}[${i}]` },
          },
        )
      }
    })
  }
}

export function createExportEngine(deps: ExportEngineDeps): ExportEngine {
  const { store, clock, logger, metrics, sdrive } = deps
  const drivers = new Map<string, Promise<void>>()
  const jobControllers = new Map<string, AbortController>()
  /** Aborted when this process lost a job's lease: another process drives it now. */
  const lostLeases = new Map<string, AbortController>()
  let claimTimer: NodeJS.Timeout | undefined
  let claiming: Promise<void> | null = null
  /** recover() ran: from then on this process claims runs nobody drives. */
  let started = false
  const shutdown = new AbortController()
  const drain = new AbortController()
  const events = new EventEmitter()
  const windows: Cron[] = []
  let closed = false

  const flowOf = (name: string): OutboundFlow => {
    const flow = deps.flows.get(name)
    if (!flow)
      throw new BridgeError('NOT_FOUND', `outbound flow "${name}" is not configured`, {
        details: { flow: name },
      })
    return flow
  }
  const outboundFlowNames = [...deps.flows.keys()]
  const timeZoneOf = (flow: OutboundFlow) => flow.window?.timezone ?? 'UTC'

  /**
   * Each flow's next window, computed once and reused until it begins:
   * parsing the cron expression for every request cost a third of the
   * accept path's CPU. Reused only for times between the one it was computed
   * from and the window itself, so a clock set back recomputes it.
   */
  const windowCache = new Map<string, { from: number; at: number; iso: string }>()

  function nextWindow(flow: OutboundFlow): string | null {
    if (!flow.window) return null
    const now = clock.now()
    const cached = windowCache.get(flow.name)
    if (cached && cached.from <= now && now < cached.at) return cached.iso
    const cron = new Cron(flow.window.cron, { timezone: flow.window.timezone, paused: true })
    const next = cron.nextRun(new Date(now))
    cron.stop()
    if (!next) return null
    windowCache.set(flow.name, { from: now, at: next.getTime(), iso: next.toISOString() })
    return next.toISOString()
  }

  async function setItem(item: ItemRecord, to: ItemRecord['state'], patch: Partial<ItemRecord> = {}) {
    assertTransition(item.state, to)
    return store.updateItem(item.id, { ...patch, state: to })
  }

  /** The files a job exports: by record (the flow's selection) and/or by id. One query each. */
  async function selectFiles(
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
  async function fetchRecords(
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
    for (const rows of await Promise.all(queries.map((q) => deps.sf.query(q, { signal })))) {
      for (const row of rows) out.set(String(row.Id).slice(0, 15), row)
    }
    return out
  }

  interface Batch {
    folder: string
    label: string
  }

  function templateValues(flow: OutboundFlow, job: RunRecord, file: SDriveFile | null, batch: Batch | null) {
    const metadata = requestOf(job).metadata ?? {}
    return {
      flow: flow.name,
      'job.id': job.id,
      window: batch?.label ?? '',
      ...(file
        ? {
            'file.name': file.fileName,
            'file.id': file.id,
            'file.size': file.sizeBytes ?? 0,
            'file.contentType': file.contentType ?? '',
            correlationId: exportCorrelationId(job.id, file.id),
          }
        : {}),
      ...Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`metadata.${k}`, v])),
    }
  }

  /** Creates the job's items: one per selected file, with its rendered destination. No file: a note, no item. */
  async function plan(
    flow: OutboundFlow,
    job: RunRecord,
    batch: Batch | null,
    signal: AbortSignal,
  ): Promise<void> {
    const files = await selectFiles(flow, requestOf(job), signal)
    if (files.length === 0) {
      // The job ends nothing_to_export (see drive): nothing was delivered, so it is not reported as a success.
      const note: RunNote = {
        path: '',
        reason: 'NOT_READY',
        message: 'no S-Drive files matched the flow selection for this request',
      }
      await store.updateRun(job.id, { notes: [note] })
      return
    }
    const records = await fetchRecords(flow, [...new Set(files.map((f) => f.parentId))], signal)
    const now = clock.now()
    const newItems: NewItem[] = []
    const failures: { key: string; message: string }[] = []
    for (const file of files) {
      const ctx = {
        values: templateValues(flow, job, file, batch),
        record: records.get(file.parentId.slice(0, 15)) ?? null,
        now,
        timeZone: timeZoneOf(flow),
      }
      const key = `export:${job.id}:${file.id}`
      try {
        let directory = renderOutboundTemplate(flow.destination.directory, ctx)
        if (batch) directory = posix.join(directory, batch.folder)
        const dir = sanitizeRemotePath(directory, flow.destination.replacement)
        const name = sanitizeRemoteSegment(
          renderOutboundTemplate(flow.destination.fileName, ctx),
          flow.destination.replacement,
        )
        newItems.push(itemFor(flow, file, posix.join(dir, name), name, key))
      } catch (error) {
        const e = toBridgeError(error, 'VALIDATION_FAILED')
        failures.push({ key, message: e.message })
        newItems.push({
          ...itemFor(flow, file, `/${file.fileName}`, file.fileName, key),
          state: 'failed',
          error: { code: e.code, message: e.message },
        })
      }
    }
    await store.addItems(job.id, newItems)
    for (const f of failures)
      logger.warn({ job: job.id, err: f.message }, 'file cannot be named for the destination')
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

  async function failAttempt(flow: OutboundFlow, item: ItemRecord, error: BridgeError, signal: AbortSignal) {
    if (signal.aborted) return
    metrics.failure(flow.name, error.code)
    const wait = waitWithoutAttempt(flow, error)
    if (wait !== null) {
      // Accepted work waits: a full transfer queue or an org at its API limit is not the file's fault.
      await setItem(item, 'pending', {
        attempts: Math.max(0, item.attempts - 1),
        error: { code: error.code, message: error.message },
        nextAttemptAt: new Date(clock.now() + wait).toISOString(),
      })
      return
    }
    if (isTransient(error) && item.attempts < flow.retry.maxAttempts) {
      const delay = backoffDelay(item.attempts - 1, {
        baseMs: flow.retry.baseDelayMs,
        maxMs: flow.retry.maxDelayMs,
      })
      await setItem(item, 'pending', {
        error: { code: error.code, message: error.message },
        nextAttemptAt: new Date(clock.now() + delay).toISOString(),
      })
      metrics.fileFinished(flow.name, 'retrying', 0)
      return
    }
    await setItem(item, 'failed', {
      error: { code: error.code, message: error.message },
      nextAttemptAt: null,
    })
    metrics.fileFinished(flow.name, 'failed', 0)
  }

  /**
   * Faults that pause work instead of using up its attempts, and for how
   * long: the transfer queue is full (a moment), or the org reached its
   * daily API limit. The Salesforce adapter holds every call at one
   * org-wide gate while the org is at its limit, so this code only reaches
   * a job from a call already in flight when the limit hit; its next call
   * waits at that gate, so the job needs no long timer of its own (hundreds
   * of such timers were what hammered the org).
   */
  function waitWithoutAttempt(flow: OutboundFlow, error: BridgeError): number | null {
    if (error.code === 'QUEUE_FULL' || error.code === 'API_LIMIT_EXCEEDED')
      return Math.max(flow.retry.baseDelayMs, 100)
    return null
  }

  /** Runs one job step, retrying transient faults with the flow's backoff (API limits without using attempts). */
  async function withRetries<T>(
    flow: OutboundFlow,
    step: string,
    jobId: string,
    signal: AbortSignal,
    fn: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (error) {
        const e = toBridgeError(error)
        if (signal.aborted || drain.signal.aborted) throw error
        const wait = waitWithoutAttempt(flow, e)
        if (wait === null && (!isTransient(e) || attempt >= flow.retry.maxAttempts)) throw e
        if (wait !== null) attempt--
        metrics.failure(flow.name, e.code)
        logger.warn({ job: jobId, code: e.code, attempt, step }, `${step} failed; will retry`)
        await clock.sleep(
          wait ?? backoffDelay(attempt - 1, { baseMs: flow.retry.baseDelayMs, maxMs: flow.retry.maxDelayMs }),
          AbortSignal.any([signal, drain.signal]),
        )
      }
    }
  }

  /** Delivers due items: download links fetched in one batch, each file streamed S3 → remote. */
  async function deliverDue(flow: OutboundFlow, items: ItemRecord[], signal: AbortSignal): Promise<void> {
    const now = clock.now()
    const due = items.filter(
      (i) =>
        (i.state === 'pending' || i.state === 'transferring') &&
        (i.nextAttemptAt === null || Date.parse(i.nextAttemptAt) <= now),
    )
    if (due.length === 0) return
    const started = await Promise.all(
      due.map((i) => setItem(i, 'transferring', { attempts: i.attempts + 1, nextAttemptAt: null })),
    )
    let urls: string[]
    try {
      urls = await sdrive.downloadUrls(
        started.map((i) => ({ id: i.target?.fileId as string, parentId: i.target?.recordId as string })),
        { signal },
      )
    } catch (error) {
      const e = toBridgeError(error, 'SDRIVE_ERROR')
      for (const item of started) await failAttempt(flow, item, e, signal)
      return
    }
    const remote = deps.remotes.get(flow.destination.endpoint)
    const endpoint = deps.endpoints.get(flow.destination.endpoint)
    const directories = new Map<string, Promise<void>>()
    await Promise.all(
      started.map(async (item, i) => {
        const begun = process.hrtime.bigint()
        try {
          const result = await deps.queue.run(flow.destination.endpoint, async () => {
            const download = await sdrive.openDownload(urls[i] as string, { signal })
            return deliverFile(remote, {
              directory: posix.dirname(item.path),
              fileName: item.name,
              source: download.stream,
              size: item.size,
              atomic: flow.destination.atomic,
              tempSuffix: flow.destination.tempSuffix,
              existing: flow.destination.existing,
              supportsRename: endpoint?.supportsRename ?? true,
              signal,
              tag: item.runId,
              directories,
            })
          })
          metrics.transferDuration(flow.name, Number(process.hrtime.bigint() - begun) / 1e9)
          const patch = {
            sha256: result.sha256,
            bytesTransferred: result.bytes,
            finalPath: result.path,
            error: null,
          }
          if (result.outcome === 'skipped') {
            await setItem(item, 'skipped', { ...patch, finalPath: result.path })
            metrics.fileFinished(flow.name, 'skipped', 0)
          } else {
            await setItem(item, 'finalizing', patch)
          }
        } catch (error) {
          const fresh = (await store.getItem(item.id)) as ItemRecord
          await failAttempt(flow, fresh, toBridgeError(error, 'REMOTE_IO'), signal)
        }
      }),
    )
  }

  /** Archive mode and completion: remove from S-Drive only what was delivered and verified. */
  async function finalizeDelivered(
    flow: OutboundFlow,
    items: ItemRecord[],
    signal: AbortSignal,
  ): Promise<void> {
    const finalizing = items.filter((i) => i.state === 'finalizing')
    if (finalizing.length === 0) return
    if (flow.archive.removeFromSDrive) {
      try {
        await sdrive.removeFiles(
          flow.source.fileObject,
          finalizing.map((i) => i.target?.fileId as string),
          { signal },
        )
      } catch (error) {
        const e = toBridgeError(error, 'SDRIVE_ERROR')
        logger.warn({ flow: flow.name, code: e.code, err: e.message }, 'archive removal failed; will retry')
        if (isTransient(e)) return
        // Side by side: one commit for the whole batch, not one per file.
        await Promise.all(
          finalizing.map((item) =>
            setItem(item, 'failed', {
              error: {
                code: e.code,
                message: `delivered to ${item.finalPath}, but not removed from S-Drive: ${e.message}`,
              },
            }),
          ),
        )
        return
      }
    }
    await Promise.all(
      finalizing.map(async (item) => {
        await setItem(item, 'done')
        metrics.fileFinished(flow.name, 'done', item.bytesTransferred)
      }),
    )
  }

  function manifestRows(
    items: ItemRecord[],
    records: Map<string, Record<string, unknown>>,
    fields: string[],
  ): ManifestRow[] {
    return items
      .filter((i) => i.state === 'done')
      .map((i) => ({
        recordId: i.target?.recordId ?? '',
        fileId: i.target?.fileId ?? '',
        correlationId: exportCorrelationId(i.runId, i.target?.fileId ?? ''),
        fileName: i.name,
        remotePath: i.finalPath ?? i.path,
        size: i.bytesTransferred,
        sha256: i.sha256 ?? '',
        deliveredAt: i.updatedAt,
        fields: Object.fromEntries(
          fields.map((f) => {
            const v = recordValue(records.get((i.target?.recordId ?? '').slice(0, 15)) ?? null, f)
            return [f, v === undefined || v === null ? null : String(v)]
          }),
        ),
      }))
  }

  /** Manifest (delivered files) and, when everything arrived, the done-marker, written last. */
  async function writeCompanions(
    flow: OutboundFlow,
    jobs: RunRecord[],
    items: ItemRecord[],
    batch: Batch | null,
    signal: AbortSignal,
  ): Promise<void> {
    if (!flow.manifest && !flow.doneMarker) return
    const delivered = items.filter((i) => i.state === 'done')
    const complete = items.every((i) => i.state === 'done' || i.state === 'skipped')
    const anchor = jobs[0] as RunRecord
    const ctx = {
      values: { ...templateValues(flow, anchor, null, batch), format: flow.manifest?.format ?? '' },
      record: null,
      now: clock.now(),
      timeZone: timeZoneOf(flow),
    }
    // One manifest for the job (or window batch): in the deepest folder all delivered files share.
    const directory = commonDirectory(delivered.map((i) => posix.dirname(i.finalPath ?? i.path)))
    const remote = deps.remotes.get(flow.destination.endpoint)
    const supportsRename = deps.endpoints.get(flow.destination.endpoint)?.supportsRename ?? true
    const text = {
      atomic: flow.destination.atomic,
      tempSuffix: flow.destination.tempSuffix,
      supportsRename,
      signal,
    }
    if (flow.manifest && delivered.length > 0) {
      const records = await fetchRecords(
        flow,
        [...new Set(delivered.map((i) => i.target?.recordId ?? ''))],
        signal,
      )
      const name = sanitizeRemoteSegment(
        renderOutboundTemplate(flow.manifest.fileName, ctx),
        flow.destination.replacement,
      )
      const body = renderManifest(
        flow.manifest.format,
        manifestRows(delivered, records, flow.manifest.recordFields),
        flow.manifest.recordFields,
      )
      await writeTextFile(remote, posix.join(directory, name), body, text)
    }
    if (flow.doneMarker && complete && delivered.length > 0) {
      const name = sanitizeRemoteSegment(
        renderOutboundTemplate(flow.doneMarker.fileName, ctx),
        flow.destination.replacement,
      )
      await writeTextFile(remote, posix.join(directory, name), '', text)
    }
  }

  /** The write-back fields for how the job ended (none configured: no write-back). */
  function writeBackFields(flow: OutboundFlow, outcome: RunState): Record<string, string> | undefined {
    if (!flow.writeBack) return undefined
    if (outcome === 'nothing_to_export') return flow.writeBack.onNothingToExport
    return outcome === 'succeeded' ? flow.writeBack.onSuccess : flow.writeBack.onFailure
  }

  /**
   * Write-back: one collections PATCH per job with the fields for its
   * outcome. Transient faults are retried with the flow's backoff; what is
   * left is returned as a WRITE_BACK_FAILED error (null when it worked).
   */
  async function writeBack(
    flow: OutboundFlow,
    job: RunRecord,
    items: ItemRecord[],
    outcome: RunState,
    signal: AbortSignal,
  ): Promise<BridgeError | null> {
    const fields = writeBackFields(flow, outcome)
    if (!fields) return null
    const failed = items.filter((i) => i.state === 'failed')
    const recordIds = [
      ...new Set([...(requestOf(job).recordIds ?? []), ...items.map((i) => i.target?.recordId ?? '')]),
    ].filter((id) => id !== '')
    if (recordIds.length === 0) return null
    const error = failed.map((i) => `${i.name}: ${i.error?.code ?? ''} ${i.error?.message ?? ''}`).join('; ')
    const ctx = {
      values: {
        ...templateValues(flow, job, null, null),
        error: error.slice(0, 255),
        'file.count': items.filter((i) => i.state === 'done').length,
      },
      record: null,
      now: clock.now(),
      timeZone: timeZoneOf(flow),
    }
    const values = Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [k, renderOutboundTemplate(v, ctx)]),
    )
    try {
      const results = await withRetries(flow, 'write-back', job.id, signal, () =>
        deps.sf.updateRecords(
          flow.source.object,
          recordIds.map((Id) => ({ Id, ...values })),
          { signal },
        ),
      )
      const bad = results.filter((r) => !r.success)
      if (bad.length === 0) return null
      const first = bad[0]?.errors[0]
      return new BridgeError(
        'WRITE_BACK_FAILED',
        `write-back failed for ${bad.length} of ${results.length} record(s): ${first?.statusCode ?? ''} ${first?.message ?? ''}`.trim(),
      )
    } catch (error) {
      if (signal.aborted) throw error
      return new BridgeError('WRITE_BACK_FAILED', `write-back failed: ${toBridgeError(error).message}`)
    }
  }

  /** A failed write-back shows in the job's state: delivered but not recorded is a partial failure. */
  function stateAfterWriteBack(outcome: RunState, writeBackError: BridgeError | null): RunState {
    if (!writeBackError) return outcome
    if (outcome === 'succeeded') return 'partially_failed'
    if (outcome === 'nothing_to_export') return 'failed'
    return outcome
  }

  /** Drives jobs to the end: plan (once), deliver with retries, finalize, companions, write-back. */
  async function drive(flow: OutboundFlow, jobs: RunRecord[], batch: Batch | null): Promise<void> {
    const controllers = jobs.map((job) => {
      const controller = new AbortController()
      jobControllers.set(job.id, controller)
      return controller
    })
    const lost = AbortSignal.any(
      jobs.map((job) => lostLeases.get(job.id)?.signal ?? new AbortController().signal),
    )
    const signal = AbortSignal.any([shutdown.signal, lost, ...controllers.map((c) => c.signal)])
    try {
      for (const job of jobs) {
        const fresh = (await store.getRun(job.id)) as RunRecord
        await store.updateRun(job.id, {
          state: 'running',
          startedAt: fresh.startedAt ?? new Date(clock.now()).toISOString(),
        })
        if ((await store.listItems(job.id)).length === 0 && fresh.notes.length === 0)
          await withRetries(flow, 'planning the job', job.id, signal, () => plan(flow, fresh, batch, signal))
      }
      for (;;) {
        // Draining: deliveries not started stay pending; the next start picks the job up.
        if (drain.signal.aborted || lost.aborted) return
        const items = (await Promise.all(jobs.map((j) => store.listItems(j.id)))).flat()
        await deliverDue(flow, items, signal)
        await finalizeDelivered(
          flow,
          (await Promise.all(jobs.map((j) => store.listItems(j.id)))).flat(),
          signal,
        )
        const after = (await Promise.all(jobs.map((j) => store.listItems(j.id)))).flat()
        const active = after.filter((i) => ACTIVE.includes(i.state))
        if (active.length === 0) break
        const wake = Math.min(
          ...active.map((i) =>
            i.nextAttemptAt ? Date.parse(i.nextAttemptAt) : clock.now() + flow.retry.baseDelayMs,
          ),
        )
        await clock.sleep(Math.max(0, wake - clock.now()), AbortSignal.any([signal, drain.signal]))
      }
      const all = (await Promise.all(jobs.map((j) => store.listItems(j.id)))).flat()
      let companionError: BridgeError | null = null
      try {
        await withRetries(flow, 'writing the manifest and done-marker', jobs[0]?.id ?? '', signal, () =>
          writeCompanions(flow, jobs, all, batch, signal),
        )
      } catch (error) {
        if (signal.aborted) throw error
        // Its own code (a Salesforce fault in the manifest's record query is not a remote I/O fault).
        companionError = toBridgeError(error, 'REMOTE_IO')
      }
      for (const job of jobs) {
        const items = await store.listItems(job.id)
        const counts = await store.runCounts(job.id)
        const outcome: RunState =
          items.length === 0 ? 'nothing_to_export' : (finalRunState(counts) ?? 'failed')
        const writeBackError = await writeBack(flow, job, items, outcome, signal)
        const state = companionError ? 'failed' : stateAfterWriteBack(outcome, writeBackError)
        const problem = companionError ?? writeBackError
        await store.updateRun(job.id, {
          state,
          finishedAt: new Date(clock.now()).toISOString(),
          error: problem ? { code: problem.code, message: problem.message } : null,
        })
        if (writeBackError)
          logger.warn(
            { job: job.id, code: writeBackError.code, err: writeBackError.message },
            'write-back failed',
          )
        // The state stored, not the one computed before companions and write-back.
        metrics.runFinished(flow.name, state)
      }
    } catch (error) {
      // Stopped, not failed: the next start, or the job's new owner, carries on.
      if (shutdown.signal.aborted || drain.signal.aborted || lost.aborted) return
      const cancelled = controllers.some((c) => c.signal.aborted)
      const e = toBridgeError(error)
      for (const job of jobs) {
        await store.updateRun(job.id, {
          state: cancelled ? 'cancelled' : 'failed',
          finishedAt: new Date(clock.now()).toISOString(),
          error: cancelled
            ? { code: 'CANCELLED', message: 'cancelled by request' }
            : { code: e.code, message: e.message },
        })
        if (cancelled) {
          for (const item of (await store.listItems(job.id)).filter((i) => ACTIVE.includes(i.state))) {
            await store.updateItem(item.id, {
              state: 'skipped',
              error: { code: 'CANCELLED', message: 'job cancelled' },
            })
          }
        }
      }
      if (!cancelled) logger.error({ flow: flow.name, code: e.code, err: e.message }, 'export job failed')
    } finally {
      for (const job of jobs) {
        jobControllers.delete(job.id)
        events.emit('job-settled', job.id)
      }
    }
  }

  /** Drives jobs whose leases this process just claimed (a window's jobs together). */
  function launch(flow: OutboundFlow, jobs: RunRecord[], batch: Batch | null): void {
    const fresh = jobs.filter((j) => !drivers.has(j.id))
    if (fresh.length === 0) return
    if (closed) {
      for (const j of fresh) void deps.leases.release(j.id)
      return
    }
    for (const j of fresh) {
      const lostLease = new AbortController()
      lostLeases.set(j.id, lostLease)
      deps.leases.hold(j.id, () => lostLease.abort(new BridgeError('CANCELLED', 'lease lost')))
    }
    const driver = drive(flow, fresh, batch).finally(async () => {
      for (const j of fresh) {
        drivers.delete(j.id)
        lostLeases.delete(j.id)
        await deps.leases.release(j.id)
      }
      // A slot is free: take the next waiting job now rather than at the next claim tick.
      kick()
    })
    for (const j of fresh) drivers.set(j.id, driver)
  }

  /** Claims in the background (one claim at a time); errors are logged, the next tick tries again. */
  function kick(): void {
    if (closed || !started) return
    claiming ??= claimAndLaunch()
      .catch((error) => logger.warn({ err: toBridgeError(error).message }, 'could not claim jobs'))
      .finally(() => {
        claiming = null
      })
  }

  /** Claims queued or running jobs nobody drives (all, or these ids) and drives them. */
  async function claimAndLaunch(ids?: string[]): Promise<void> {
    const room = (deps.maxActiveRuns ?? 50) - new Set(drivers.values()).size
    if (closed || room <= 0) return
    const claimed = await deps.leases.claim([...deps.flows.keys()], ['queued', 'running'], {
      ...(ids ? { ids } : {}),
      limit: room,
    })
    for (const job of claimed) {
      const flow = deps.flows.get(job.flow) as OutboundFlow
      if (!ids) {
        for (const item of (await store.listItems(job.id)).filter((i) => i.state === 'transferring')) {
          // Remote writes go to a temporary name first, so an interrupted one is simply redone.
          await setItem(item, 'pending')
        }
      }
      launch(flow, [job], null)
    }
  }

  /** Requests inside submit() whose job is not in the store yet (or only just). */
  let admitting = 0

  const queueFull = () =>
    new BridgeError('QUEUE_FULL', 'too many files are waiting; try again later', {
      transient: true,
      details: { retryAfterSeconds: 30 },
    })

  /**
   * Takes `count` admission slots against maxQueuedItems and runs `admitted`
   * with how many of them fit. The bound counts files waiting or in progress,
   * and one for each export job not finished or being admitted: a job's files
   * reach the store only once it is planned, so without it a burst of
   * requests would all pass. The slots are taken before the first await, so
   * requests that interleave see each other.
   */
  async function withAdmission<T>(count: number, admitted: (fit: number) => Promise<T>): Promise<T> {
    admitting += count
    try {
      const room = deps.maxQueuedItems - ((await queuedWork()) + admitting - count)
      return await admitted(Math.max(0, Math.min(count, room)))
    } finally {
      admitting -= count
    }
  }

  /** Stores one admitted job; `launch` says whether it should start now. */
  async function storeJob(
    flow: OutboundFlow,
    request: ExportRequest,
    options: { trigger: RunTrigger; idempotencyKey?: string },
  ): Promise<{ job: RunRecord; created: boolean; launch: boolean }> {
    const notBefore = nextWindow(flow)
    const create = (idempotencyKey: string | undefined) =>
      store.createRun({
        flow: flow.name,
        trigger: options.trigger,
        request: { ...request },
        requestHash: exportRequestHash(flow.name, request),
        ...(idempotencyKey ? { idempotencyKey } : {}),
        ...(notBefore ? { state: 'waiting_for_window' as const, notBefore } : {}),
      })
    const key = options.idempotencyKey
    const serviceKey = key !== undefined && options.trigger !== 'api'
    let result = await create(key)
    if (serviceKey && result.outcome !== 'created' && result.run.trigger !== options.trigger) {
      // A client stored this service key before such keys were refused: step aside from it.
      result = await create(displacedKey(key))
    }
    if (result.outcome === 'conflict' && !serviceKey) {
      throw new BridgeError('CONFLICT', 'Idempotency-Key was already used with a different request', {
        details: { jobId: result.run.id },
      })
    }
    // A service key seen again with other content (a notification redelivered after its record
    // changed) is the same request: the job recorded first stands.
    const created = result.outcome === 'created'
    return { job: result.run, created, launch: created && !notBefore }
  }

  /** Files waiting or in progress, and export jobs not finished: what admission bounds. */
  async function queuedWork(): Promise<number> {
    const [items, unfinished] = await Promise.all([
      store.activeItemCount(),
      store.countRuns(['queued', 'running'], outboundFlowNames),
    ])
    return items + unfinished
  }

  /**
   * Each object's id prefix, described once per process. A transient failure
   * is asked again next time; a permanent one (no such object: a
   * configuration fault reported elsewhere) is remembered as "unknown".
   */
  const keyPrefixes = new Map<string, Promise<string | null>>()

  function keyPrefixOf(object: string): Promise<string | null> {
    let prefix = keyPrefixes.get(object)
    if (!prefix) {
      // An HTTP request is waiting: at the API limit this fails at once instead of waiting for the limit to lift.
      prefix = deps.sf
        .describe(object, { whenLimited: 'fail' })
        .then((described) => described?.keyPrefix ?? null)
        .catch((error: unknown) => {
          if (isTransient(error)) keyPrefixes.delete(object)
          throw error
        })
      keyPrefixes.set(object, prefix)
    }
    return prefix
  }

  /** A record of another object than the flow's (an Account id sent to an Opportunity flow) is refused. */
  async function checkRecordObjects(flow: OutboundFlow, request: ExportRequest): Promise<void> {
    const ids = request.recordIds ?? []
    if (ids.length === 0) return
    let prefix: string | null
    try {
      prefix = await keyPrefixOf(flow.source.object)
    } catch (error) {
      // Not knowing the prefix must not refuse work: such a record simply has no files of the flow's file object.
      const e = toBridgeError(error)
      if (!isTransient(e)) keyPrefixes.set(flow.source.object, Promise.resolve(null))
      logger.warn(
        { flow: flow.name, code: e.code, err: e.message },
        'record ids not checked against the object',
      )
      return
    }
    if (!prefix) return
    ids.forEach((id, i) => {
      if (id.slice(0, 3) === prefix) return
      throw new BridgeError(
        'VALIDATION_FAILED',
        `body.recordIds[${i}]: "${id}" is not a ${flow.source.object} record (its id prefix is ${id.slice(0, 3)}, ${flow.source.object} ids begin with ${prefix})`,
        { details: { field: `body.recordIds[${i}]`, reason: 'WRONG_OBJECT' } },
      )
    })
  }

  const engine: ExportEngine = {
    events,
    isOutboundFlow: (name) => deps.flows.has(name),
    queuedWork,

    async submit(flowName, request, options) {
      const flow = flowOf(flowName)
      validateRequest(request)
      await checkRecordObjects(flow, request)
      const { job, created, launch } = await withAdmission(1, (fit) => {
        if (fit === 0) throw queueFull()
        return storeJob(flow, request, options)
      })
      if (launch) await claimAndLaunch([job.id])
      return { job, created }
    },

    async submitMany(flowName, entries, options) {
      const flow = flowOf(flowName)
      for (const entry of entries) validateRequest(entry.request)
      const optionsOf = (entry: (typeof entries)[number]) => ({
        trigger: options.trigger,
        ...(entry.idempotencyKey ? { idempotencyKey: entry.idempotencyKey } : {}),
      })
      // Room for all: stored concurrently, so the store's group commit writes them together.
      const stored = await withAdmission(entries.length, async (fit) =>
        fit < entries.length
          ? undefined
          : Promise.allSettled(entries.map((entry) => storeJob(flow, entry.request, optionsOf(entry)))),
      )
      if (stored === undefined) {
        // Not room for all: one at a time, as submit() does, so a job recorded by an earlier
        // delivery of the same message takes no room and what fits is recorded in order.
        const results: PromiseSettledResult<{ job: RunRecord; created: boolean }>[] = []
        for (const entry of entries) {
          results.push(
            await engine.submit(flow.name, entry.request, optionsOf(entry)).then(
              (value) => ({ status: 'fulfilled' as const, value }),
              (reason: unknown) => ({ status: 'rejected' as const, reason }),
            ),
          )
        }
        return results
      }
      const ids = stored.flatMap((r) => (r.status === 'fulfilled' && r.value.launch ? [r.value.job.id] : []))
      // One claim, within maxActiveRuns; jobs beyond it wait for the claim loop, as any queued job.
      if (ids.length > 0) await claimAndLaunch(ids)
      return stored.map((r) =>
        r.status === 'fulfilled'
          ? { status: r.status, value: { job: r.value.job, created: r.value.created } }
          : r,
      )
    },

    async retry(jobId) {
      const job = await store.getRun(jobId)
      if (!job || !deps.flows.has(job.flow)) throw new BridgeError('NOT_FOUND', `job ${jobId} does not exist`)
      flowOf(job.flow)
      const failed = (await store.listItems(jobId)).filter((i) => i.state === 'failed')
      for (const item of failed)
        await setItem(item, 'pending', { attempts: 0, nextAttemptAt: null, error: null })
      if (failed.length === 0) return { job, retried: 0 }
      const updated = await store.updateRun(jobId, { state: 'running', finishedAt: null, error: null })
      // Driven elsewhere: that driver's next round finds the items pending again.
      if (!drivers.has(jobId)) await claimAndLaunch([jobId])
      return { job: updated, retried: failed.length }
    },

    async cancel(jobId) {
      const job = await store.getRun(jobId)
      if (!job || !deps.flows.has(job.flow)) throw new BridgeError('NOT_FOUND', `job ${jobId} does not exist`)
      if (!['waiting_for_window', 'queued', 'running'].includes(job.state)) {
        throw new BridgeError('CONFLICT', `job ${jobId} is ${job.state} and cannot be cancelled`)
      }
      const controller = jobControllers.get(jobId)
      if (controller) {
        controller.abort(new BridgeError('CANCELLED', 'cancelled by request'))
        await drivers.get(jobId)
        return (await store.getRun(jobId)) as RunRecord
      }
      for (const item of (await store.listItems(jobId)).filter((i) => ACTIVE.includes(i.state))) {
        await store.updateItem(item.id, {
          state: 'skipped',
          error: { code: 'CANCELLED', message: 'job cancelled' },
        })
      }
      return store.updateRun(jobId, {
        state: 'cancelled',
        finishedAt: new Date(clock.now()).toISOString(),
        error: { code: 'CANCELLED', message: 'cancelled by request' },
      })
    },

    async releaseWindow(flowName) {
      const flow = flowOf(flowName)
      const now = clock.now()
      // Every replica's window timer fires; the claim gives each due job to one of them.
      const due = await deps.leases.claim([flow.name], ['waiting_for_window'], {
        dueBy: new Date(now).toISOString(),
        limit: flow.source.maxFilesPerJob * 10,
      })
      if (due.length === 0) return []
      const label = formatDate(now, 'yyyyMMdd-HHmm', timeZoneOf(flow))
      const ctx = {
        values: { flow: flow.name, window: label, 'job.id': (due[0] as RunRecord).id },
        record: null,
        now,
        timeZone: timeZoneOf(flow),
      }
      const folder = sanitizeRemoteSegment(
        renderOutboundTemplate(flow.window?.batchFolder ?? 'batch-{window}', ctx),
        flow.destination.replacement,
      )
      const queued = await Promise.all(due.map((j) => store.updateRun(j.id, { state: 'queued' })))
      launch(flow, queued, { folder, label })
      return queued.map((j) => j.id)
    },

    async recover() {
      started = true
      await claimAndLaunch()
      const every = deps.claimIntervalMs ?? Math.max(100, Math.floor(deps.leases.leaseMs / 2))
      claimTimer = setInterval(kick, every)
      claimTimer.unref()
    },

    startWindows() {
      for (const flow of deps.flows.values()) {
        if (!flow.window) continue
        windows.push(
          new Cron(flow.window.cron, { timezone: flow.window.timezone, protect: true }, async () => {
            try {
              await engine.releaseWindow(flow.name)
            } catch (error) {
              logger.error({ flow: flow.name, err: toBridgeError(error).message }, 'delivery window failed')
            }
          }),
        )
      }
    },

    async settled(jobId) {
      await drivers.get(jobId)
    },

    async close(options = {}) {
      if (closed) return
      closed = true
      clearInterval(claimTimer)
      await claiming
      for (const w of windows) w.stop()
      drain.abort(new BridgeError('CANCELLED', 'service is shutting down'))
      await settleWithin([...new Set(drivers.values())], options.graceMs ?? 0)
      shutdown.abort(new BridgeError('CANCELLED', 'service is shutting down'))
      await Promise.allSettled([...new Set(drivers.values())])
    },
  }
  return engine
}
