/**
 * Drives inbound runs: discover → match (batched SOQL) → claim in the
 * ledger → upload in batches → dispose of the source. A run is driven by a
 * loop that reads its items from the store each round, so resuming after a
 * restart is the same code path as running for the first time.
 */
import { EventEmitter } from 'node:events'
import PQueue from 'p-queue'
import type { Logger } from 'pino'
import type { EndpointConfig, InboundFlow, StatusFlow } from '../config/schema.js'
import { backoffDelay } from '../domain/backoff.js'
import { type BatchLimits, batchByKey, DEFAULT_BATCH_LIMITS } from '../domain/batching.js'
import { BridgeError, isTransient, toBridgeError } from '../domain/errors.js'
import { sdriveFileName } from '../domain/file-names.js'
import { assertTransition, finalRunState } from '../domain/item-state.js'
import { ledgerKey } from '../domain/readiness.js'
import { renderTemplate } from '../domain/templates.js'
import type { Clock } from '../ports/clock.js'
import type { BridgeMetrics } from '../ports/metrics.js'
import type { RemoteFiles, RemoteRegistry } from '../ports/remote-files.js'
import type { SalesforceApi } from '../ports/salesforce.js'
import type { SDrive } from '../ports/sdrive.js'
import type { ItemRecord, NewItem, RunRecord, RunTrigger, Store } from '../ports/store.js'
import type { TransferQueue } from '../queue/transfer-queue.js'
import type { LeaseKeeper } from '../runs/lease-keeper.js'
import { type BatchContext, sdriveTargetOf, transferBatch } from '../flows/inbound/upload.js'
import { type DiscoveredFile, discoverFiles } from '../flows/inbound/discover.js'
import type { FlowSchemaChecker } from './flow-schema.js'
import { matchFiles } from '../flows/inbound/record-matcher.js'
import { correlateResubmissions, recordResubmission } from './resubmissions.js'
import { currentLocation, disposeFailed, disposeSucceeded, failureUnreported } from '../flows/inbound/dispose.js'
import {
  applyStatusFile,
  isErrorReport,
  type StatusContext,
  type StatusDetail,
  statusDetailOf,
  writeErrorReport,
} from './status-files.js'

/** Flows whose runs this engine drives: file transfers (inbound) and status files. */
export type SourceFolderFlow = InboundFlow | StatusFlow

export interface InboundEngineDeps {
  flows: ReadonlyMap<string, SourceFolderFlow>
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
  batchLimits?: BatchLimits
  /** Run leases: this process drives only the runs it holds. */
  leases: LeaseKeeper
  /** Checks inbound flows against the org's schema before their runs; none: not checked. */
  flowSchema?: FlowSchemaChecker
  /** How often to look for runs nobody drives (a crashed replica's); default half a lease. */
  claimIntervalMs?: number
  /** Runs driven at once by this process. */
  maxActiveRuns?: number
}

export interface StartRunOptions {
  trigger: RunTrigger
  idempotencyKey?: string
  requestHash?: string
}

export type PlannedAction =
  | 'upload'
  | 'skip'
  | 'replace'
  | 'duplicate'
  | 'fail'
  | 'wait'
  | 'already-processed'
  | 'resubmission'
  | 'apply'

export interface PlannedFile {
  path: string
  size: number
  action: PlannedAction
  target: { object: string; recordId: string; fileObject: string } | null
  reason: string | null
  code: string | null
}

export interface DryRunPlan {
  flow: string
  files: PlannedFile[]
}

export interface InboundEngine {
  startRun(flow: string, options: StartRunOptions): Promise<{ run: RunRecord; created: boolean }>
  dryRun(flow: string, signal?: AbortSignal): Promise<DryRunPlan>
  retryRun(runId: string): Promise<{ run: RunRecord; retried: number }>
  /** Claims unfinished runs nobody drives, now and then every claim interval (call once at start-up). */
  recover(): Promise<void>
  /** Resolves when the run's driver has stopped (finished, or engine closed). */
  settled(runId: string): Promise<void>
  /** Whether a run of the flow is queued or running, in any process. */
  hasActiveRun(flow: string): Promise<boolean>
  /** Bytes streamed so far per item of a run, for files in flight. */
  inFlightBytes(runId: string): ReadonlyMap<string, number>
  /** Emits 'run-progress' (runId) as files stream and change state, and 'run-settled' (runId). */
  readonly events: EventEmitter
  /**
   * Stops starting new work, lets transfers in flight finish for up to
   * graceMs, then aborts the rest (left for the next start to reconcile).
   */
  close(options?: { graceMs?: number }): Promise<void>
}

const ACTIVE: ItemRecord['state'][] = ['pending', 'transferring', 'finalizing']

/** Waits for the promises to settle, but no longer than ms. */
export async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0 || ms <= 0) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.allSettled(promises),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms)
    }),
  ])
  clearTimeout(timer)
}

export function createInboundEngine(deps: InboundEngineDeps): InboundEngine {
  const { store, clock, logger, metrics } = deps
  const batchLimits = deps.batchLimits ?? DEFAULT_BATCH_LIMITS
  const drivers = new Map<string, Promise<void>>()
  const activeFlows = new Map<string, number>()
  const shutdown = new AbortController()
  // Draining: nothing new starts; what is in flight may finish until shutdown aborts it.
  const drain = new AbortController()
  const events = new EventEmitter()
  events.setMaxListeners(0)
  /** Aborted when this process lost the run's lease: another process drives it now. */
  const runAborts = new Map<string, AbortController>()
  let claimTimer: NodeJS.Timeout | undefined
  let claiming: Promise<void> | null = null
  /** recover() ran: from then on this process claims runs nobody drives. */
  let started = false
  const inFlight = new Map<string, Map<string, number>>()
  const lastProgressEmit = new Map<string, number>()
  let closed = false

  /** Progress is announced at most every 200 ms per run: SSE clients poll the store on it. */
  function announce(runId: string, force = false): void {
    const now = Date.now()
    if (!force && now - (lastProgressEmit.get(runId) ?? 0) < 200) return
    lastProgressEmit.set(runId, now)
    events.emit('run-progress', runId)
  }

  const flowOf = (name: string): SourceFolderFlow => {
    const flow = deps.flows.get(name)
    if (!flow)
      throw new BridgeError('NOT_FOUND', `flow "${name}" is not configured`, { details: { flow: name } })
    return flow
  }

  async function setItem(item: ItemRecord, to: ItemRecord['state'], patch: Partial<ItemRecord> = {}) {
    assertTransition(item.state, to)
    return store.updateItem(item.id, { ...patch, state: to })
  }

  /**
   * A configuration fault met in a lookup: the run's files not yet started are let go untouched
   * (skipped, their ledger claim released), so a run after the fix takes them as if this one had
   * not seen them.
   */
  async function letGoOfFiles(flow: InboundFlow, runId: string, error: BridgeError): Promise<BridgeError> {
    const final = error.details?.problems ? error : (deps.flowSchema?.lookupFailed(flow, error) ?? error)
    for (const item of await store.listItems(runId)) {
      if (item.state !== 'pending') continue
      await setItem(item, 'skipped', { error: { code: final.code, message: final.message } })
      await store.releaseLedger(item.id)
    }
    return final
  }

  /** Moves a permanently failed file to the error folder (once) and reports it. */
  async function handleFailed(flow: SourceFolderFlow, item: ItemRecord): Promise<void> {
    const remote = deps.remotes.get(item.endpoint)
    const error = item.error ?? { code: 'INTERNAL', message: 'failed' }
    const time = new Date(clock.now()).toISOString()
    const { finalPath } = await disposeFailed(
      remote,
      flow,
      item,
      {
        code: error.code,
        message: error.message,
        runId: item.runId,
        itemId: item.id,
        flow: flow.name,
        file: item.path,
        attempts: item.attempts,
        time,
      },
      shutdown.signal,
    )
    await store.updateItem(item.id, {
      finalPath,
      error: { code: error.code, message: error.message, reportedAt: time },
    })
    metrics.fileFinished(flow.name, 'failed', 0)
  }

  async function finalize(flow: SourceFolderFlow, item: ItemRecord): Promise<void> {
    const remote = deps.remotes.get(item.endpoint)
    const status = flow.kind === 'status' ? statusDetailOf(item) : null
    if (flow.kind === 'status' && status) {
      await finalizeStatusFile(flow, remote, item, status)
      return
    }
    const replaceIds = item.target?.replaceIds ?? []
    if (replaceIds.length > 0 && item.target) {
      await deps.sdrive.removeFiles(item.target.fileObject, replaceIds, { signal: shutdown.signal })
      item = await store.updateItem(item.id, { target: { ...item.target, replaceIds: [] } })
    }
    const supersedeIds = item.target?.supersedeIds ?? []
    if (supersedeIds.length > 0 && item.target) {
      await deps.sdrive.markSuperseded(item.target.fileObject, supersedeIds, { signal: shutdown.signal })
      item = await store.updateItem(item.id, { target: { ...item.target, supersedeIds: [] } })
    }
    if (flow.kind === 'inbound' && item.target?.correlationId && !item.target.reviewApplied) {
      await recordResubmission({ store, sf: deps.sf, metrics, now: clock.now() }, flow, item, shutdown.signal)
      item = await store.updateItem(item.id, { target: { ...item.target, reviewApplied: true } })
    }
    const { finalPath } = await disposeSucceeded(remote, flow, item, shutdown.signal)
    const skipped = item.target?.alreadyInSDrive === true
    await setItem(item, skipped ? 'skipped' : 'done', { finalPath, error: null })
    metrics.fileFinished(flow.name, skipped ? 'skipped' : 'done', skipped ? 0 : item.bytesTransferred)
  }

  function statusContext(flow: StatusFlow): StatusContext {
    return {
      store,
      sf: deps.sf,
      remote: deps.remotes.get(flow.source.endpoint),
      metrics,
      logger,
      signal: shutdown.signal,
    }
  }

  /** A status file's tidy-up: dispose of it once, then the report of rejected rows beside it. */
  async function finalizeStatusFile(
    flow: StatusFlow,
    remote: RemoteFiles,
    item: ItemRecord,
    status: StatusDetail,
  ): Promise<void> {
    let detail = status
    if (!detail.disposed) {
      const { finalPath } = await disposeSucceeded(remote, flow, item, shutdown.signal)
      detail = { ...detail, disposed: true }
      item = await store.updateItem(item.id, {
        finalPath,
        detail: detail as unknown as Record<string, unknown>,
      })
    }
    const supportsRename = deps.endpoints.get(item.endpoint)?.supportsRename ?? true
    const reportPath = await writeErrorReport(statusContext(flow), flow, item, detail, supportsRename)
    detail = { ...detail, reportPath }
    const error =
      detail.rowsRejected > 0
        ? {
            code: 'ROWS_REJECTED',
            message: `${detail.rowsRejected} of ${detail.rowsTotal} rows rejected, ${detail.rowsApplied} applied; report: ${reportPath}`,
          }
        : null
    await setItem(item, 'done', { detail: detail as unknown as Record<string, unknown>, error })
    metrics.fileFinished(flow.name, 'done', 0)
  }

  /** Applies the due status files of a run, in name order (an ERP's sequence), one after another. */
  async function applyStatusFiles(flow: StatusFlow, items: ItemRecord[]): Promise<void> {
    const now = clock.now()
    const due = items
      .filter(
        (i) =>
          (i.state === 'pending' || i.state === 'transferring') &&
          i.target === null &&
          (i.nextAttemptAt === null || Date.parse(i.nextAttemptAt) <= now),
      )
      .sort((a, b) => a.path.localeCompare(b.path))
    for (const pending of due) {
      if (drain.signal.aborted) return
      const attempts = pending.attempts + 1
      let item =
        pending.state === 'pending'
          ? await setItem(pending, 'transferring', { attempts })
          : await store.updateItem(pending.id, { attempts })
      try {
        await applyStatusFile(statusContext(flow), flow, item)
        item = (await store.getItem(item.id)) as ItemRecord
        await setItem(item, 'finalizing', { error: null, nextAttemptAt: null })
        announce(item.runId)
      } catch (error) {
        if (shutdown.signal.aborted) throw error
        const e = toBridgeError(error)
        metrics.failure(flow.name, e.code)
        if (isTransient(e) && attempts < flow.retry.maxAttempts) {
          logger.warn(
            { flow: flow.name, file: item.path, code: e.code, attempts },
            'status file will be retried',
          )
          await store.updateItem(item.id, {
            error: { code: e.code, message: e.message },
            nextAttemptAt: new Date(
              clock.now() +
                backoffDelay(attempts - 1, { baseMs: flow.retry.baseDelayMs, maxMs: flow.retry.maxDelayMs }),
            ).toISOString(),
          })
        } else {
          logger.error(
            { flow: flow.name, file: item.path, code: e.code, err: e.message },
            'status file failed',
          )
          await setItem(item, 'failed', { error: { code: e.code, message: e.message } })
        }
      }
    }
  }

  /** Folder path of an item: the target's template rendered, each name made S-Drive-safe. */
  function folderPathOf(flow: SourceFolderFlow, item: ItemRecord): string[] {
    const target = item.target as NonNullable<ItemRecord['target']>
    const rendered = renderTemplate(target.folder as string, {
      flow: flow.name,
      'record.id': target.recordId,
      date: new Date(clock.now()).toISOString().slice(0, 10),
      'file.dir': relativeDirOf(flow, item.path),
    })
    return rendered
      .split('/')
      .filter((s) => s.trim() !== '')
      .map((s) => sdriveFileName(s))
  }

  /** Looks up (or creates) each distinct target folder once per round, before anything is uploaded. */
  async function resolveFolders(flow: SourceFolderFlow, items: ItemRecord[]): Promise<void> {
    const needing = items.filter(
      (i) => ACTIVE.includes(i.state) && i.target?.folder && !i.target.folderId && !i.target.alreadyInSDrive,
    )
    const groups = new Map<string, { path: string[]; items: ItemRecord[] }>()
    for (const item of needing) {
      const path = folderPathOf(flow, item)
      if (path.length === 0) continue
      const key = JSON.stringify([sdriveTargetOf(item.target as NonNullable<ItemRecord['target']>), path])
      const group = groups.get(key) ?? { path, items: [] }
      group.items.push(item)
      groups.set(key, group)
    }
    for (const { path, items: group } of groups.values()) {
      const target = (group[0] as ItemRecord).target as NonNullable<ItemRecord['target']>
      try {
        const folderId = await deps.sdrive.ensureFolder(sdriveTargetOf(target), path, {
          signal: shutdown.signal,
        })
        for (const item of group) {
          await store.updateItem(item.id, {
            target: { ...(item.target as NonNullable<ItemRecord['target']>), folderId },
          })
        }
      } catch (error) {
        const e = toBridgeError(error, 'SDRIVE_ERROR')
        logger.warn(
          { flow: flow.name, folder: path.join('/'), code: e.code },
          'could not resolve S-Drive folder',
        )
        for (const item of group) {
          if (!isTransient(e) && item.state === 'pending') {
            metrics.failure(flow.name, e.code)
            await setItem(item, 'failed', {
              error: { code: e.code, message: `S-Drive folder ${path.join('/')}: ${e.message}` },
            })
            continue
          }
          await store.updateItem(item.id, {
            error: { code: e.code, message: e.message },
            nextAttemptAt: new Date(clock.now() + flow.retry.baseDelayMs).toISOString(),
          })
        }
      }
    }
  }

  /** Puts uploaded files into their folders: one call per folder, before the source is disposed of. */
  async function applyFolders(items: ItemRecord[]): Promise<void> {
    const groups = new Map<string, ItemRecord[]>()
    for (const item of items) {
      const t = item.target
      if (
        item.state !== 'finalizing' ||
        !t?.folderId ||
        t.folderApplied ||
        t.alreadyInSDrive ||
        !item.sdriveFileId
      )
        continue
      const key = `${t.fileObject}\u0000${t.folderId}`
      groups.set(key, [...(groups.get(key) ?? []), item])
    }
    for (const group of groups.values()) {
      const t = (group[0] as ItemRecord).target as NonNullable<ItemRecord['target']>
      try {
        await deps.sdrive.moveToFolder(
          t.fileObject,
          group.map((i) => i.sdriveFileId as string),
          t.folderId as string,
          { signal: shutdown.signal },
        )
        for (const item of group) {
          await store.updateItem(item.id, {
            target: { ...(item.target as NonNullable<ItemRecord['target']>), folderApplied: true },
          })
        }
      } catch (error) {
        const e = toBridgeError(error, 'SDRIVE_ERROR')
        if (isTransient(e)) {
          logger.warn(
            { folder: t.folderId, code: e.code, err: e.message },
            'could not move files into their folder; will retry',
          )
          continue
        }
        // The documents are in S-Drive on the right record; only the folder refused them. Say so and go on.
        logger.error(
          { folder: t.folderId, code: e.code, err: e.message },
          'files stay at the record root: folder refused them',
        )
        for (const item of group) {
          await store.updateItem(item.id, {
            target: { ...(item.target as NonNullable<ItemRecord['target']>), folderApplied: true },
          })
        }
      }
    }
  }

  /** Decides, for matched files, what the existing-file policy asks. One SOQL per file object. */
  async function applyExistingPolicy(flow: InboundFlow, items: ItemRecord[]): Promise<void> {
    const groups = new Map<string, ItemRecord[]>()
    for (const item of items) {
      if (!item.target) continue
      const key = `${item.target.fileObject}\u0000${item.target.parentField}`
      groups.set(key, [...(groups.get(key) ?? []), item])
    }
    for (const group of groups.values()) {
      const { fileObject, parentField } = (group[0] as ItemRecord).target as NonNullable<ItemRecord['target']>
      const existing = await deps.sdrive.findFiles(
        fileObject,
        parentField,
        [...new Set(group.map((i) => (i.target as NonNullable<ItemRecord['target']>).recordId))],
        [...new Set(group.map((i) => sdriveFileName(i.name)))],
        { signal: shutdown.signal },
      )
      for (const item of group) {
        const target = item.target as NonNullable<ItemRecord['target']>
        const same = existing.filter(
          (f) =>
            f.parentId.slice(0, 15) === target.recordId.slice(0, 15) &&
            f.fileName === sdriveFileName(item.name),
        )
        if (same.length === 0 || flow.existing === 'duplicate') continue
        if (flow.existing === 'skip') {
          // Already in S-Drive: nothing to upload, the source is tidied like a success.
          await setItem(item, 'finalizing', {
            sdriveFileId: (same[0] as { id: string }).id,
            target: { ...target, alreadyInSDrive: true },
          })
        } else {
          await store.updateItem(item.id, { target: { ...target, replaceIds: same.map((f) => f.id) } })
        }
      }
    }
  }

  async function matchPending(flow: InboundFlow, items: ItemRecord[]): Promise<void> {
    const now = clock.now()
    let unmatched = items.filter(
      (i) =>
        i.state === 'pending' &&
        i.target === null &&
        (i.nextAttemptAt === null || Date.parse(i.nextAttemptAt) <= now),
    )
    if (unmatched.length === 0) return
    // Answers to a rejection go to the rejected file's record, whatever the match rules say.
    const resubmissions = await correlateResubmissions(flow, unmatched, store, deps.sdrive, shutdown.signal)
    await Promise.all(
      [...resubmissions].map(async ([item, { review, target }]) => {
        await store.updateItem(item.id, { target, error: null })
        logger.info(
          { flow: flow.name, file: item.path, correlationId: review.correlationId },
          'resubmission received',
        )
      }),
    )
    unmatched = unmatched.filter((i) => !resubmissions.has(i))
    if (unmatched.length === 0) return
    const candidates = unmatched.map((item) => ({
      item,
      name: item.name,
      relativeDir: relativeDirOf(flow, item.path),
    }))
    const results = await matchFiles(candidates, flow, deps.sf, shutdown.signal)
    // The outcomes are written side by side: one commit for the whole run's files, not one each.
    const outcomes = await Promise.all(
      candidates.map(async (c): Promise<ItemRecord | null> => {
        const result = results.get(c)
        if (!result) return null
        if (result.ok) return store.updateItem(c.item.id, { target: result.target, error: null })
        metrics.failure(flow.name, result.code)
        if (result.transient) {
          // Matching is tried again later: after the flow's longest backoff when the org is at its API
          // limit (a pause, not a burnt retry), else after its base delay.
          const wait = result.code === 'API_LIMIT_EXCEEDED' ? flow.retry.maxDelayMs : flow.retry.baseDelayMs
          await store.updateItem(c.item.id, {
            error: { code: result.code, message: result.message },
            nextAttemptAt: new Date(clock.now() + wait).toISOString(),
          })
        } else {
          await setItem(c.item, 'failed', { error: { code: result.code, message: result.message } })
        }
        return null
      }),
    )
    const matched = outcomes.filter((i): i is ItemRecord => i !== null)
    if (matched.length > 0) await applyExistingPolicy(flow, matched)
  }

  function relativeDirOf(flow: SourceFolderFlow, path: string): string {
    const root = flow.source.directory.replace(/\/+$/, '')
    const dir = path.slice(0, path.lastIndexOf('/'))
    return dir.length > root.length && dir.startsWith(`${root}/`) ? dir.slice(root.length + 1) : ''
  }

  async function discover(flow: SourceFolderFlow, run: RunRecord): Promise<void> {
    const remote = deps.remotes.get(flow.source.endpoint)
    const discovered = await discoverFiles({ remote, flow, clock, signal: shutdown.signal })
    // A status flow's own error reports sit beside its files when they are kept in place.
    const ours = (path: string) => flow.kind === 'status' && isErrorReport(path)
    const taken = discovered.ready.filter((f) => !ours(f.name))
    const notes = discovered.notes.filter((n) => !ours(n.path))
    for (const note of notes.filter((n) => n.reason === 'UNREADABLE_FILE_NAME')) {
      metrics.failure(flow.name, note.reason)
      logger.warn({ flow: flow.name, run: run.id, file: note.path }, `file left in place: ${note.message}`)
    }
    const limited = taken.slice(0, flow.maxFilesPerRun)
    const newItems: NewItem[] = limited.map((file: DiscoveredFile) => ({
      endpoint: flow.source.endpoint,
      path: file.path,
      name: file.name,
      size: file.size,
      modifiedAt: file.modifiedAt,
      ledgerKey: ledgerKey(flow.source.endpoint, file),
      target: null,
    }))
    const { duplicates } = await store.addItems(run.id, newItems)
    for (const d of duplicates) {
      if (ACTIVE.includes(d.ownerState)) {
        const own = (await store.getItem(d.ownerItemId))?.runId === run.id
        if (own) continue
        notes.push({
          path: d.item.path,
          reason: 'IN_PROGRESS_ELSEWHERE',
          message: `being processed by item ${d.ownerItemId}`,
        })
      } else {
        notes.push({
          path: d.item.path,
          reason: 'ALREADY_PROCESSED',
          message: `processed before by item ${d.ownerItemId} (${d.ownerState})`,
        })
      }
    }
    await store.updateRun(run.id, { notes })
  }

  /** One round over the run's items; returns the time to wake up for due retries, or null when finished. */
  async function round(flow: SourceFolderFlow, runId: string): Promise<number | null> {
    let items = await store.listItems(runId)
    if (flow.kind === 'status') await applyStatusFiles(flow, items)
    else await matchPending(flow, items)
    items = await store.listItems(runId)
    announce(runId, true)

    for (const item of items.filter((i) => failureUnreported(flow, i))) {
      await handleFailed(flow, item).catch((error) =>
        logger.warn(
          { item: item.id, err: toBridgeError(error).message },
          'could not move file to the error folder',
        ),
      )
    }

    await resolveFolders(flow, items)
    items = await store.listItems(runId)

    const now = clock.now()
    const due = items.filter(
      (i) =>
        (i.state === 'pending' || i.state === 'transferring') &&
        i.target !== null &&
        (i.nextAttemptAt === null || Date.parse(i.nextAttemptAt) <= now),
    )
    const remote = deps.remotes.get(flow.source.endpoint)
    const ctx: BatchContext = {
      flow,
      remote,
      store,
      sdrive: deps.sdrive,
      queue: deps.queue,
      clock,
      logger,
      metrics,
      signal: runSignal(runId),
      draining: drain.signal,
      onProgress(item, bytes) {
        let perRun = inFlight.get(item.runId)
        if (!perRun) {
          perRun = new Map()
          inFlight.set(item.runId, perRun)
        }
        perRun.set(item.id, bytes)
        announce(item.runId)
      },
    }
    // Draining: files not started yet stay pending for the next start.
    drain.signal.throwIfAborted()
    const batches = batchByKey(
      due,
      (i) => JSON.stringify([i.endpoint, sdriveTargetOf(i.target as NonNullable<ItemRecord['target']>)]),
      (i) => i.size,
      batchLimits,
    )
    // A file waiting to be put into its folder keeps its source until that is done.
    const waitsForFolder = (i: ItemRecord) =>
      !!i.target?.folderId && !i.target.folderApplied && !i.target.alreadyInSDrive
    const finalizeOne = async (item: ItemRecord): Promise<void> => {
      try {
        await finalize(flow, item)
      } catch (error) {
        // Stopping, or the run went to another replica: the item stays finalizing for whoever drives it next.
        if (ctx.signal.aborted) return
        const e = toBridgeError(error)
        if (isTransient(e)) {
          logger.warn(
            { item: item.id, code: e.code, err: e.message },
            'could not dispose of the source file; will retry',
          )
          await store.updateItem(item.id, {
            error: { code: e.code, message: e.message },
            nextAttemptAt: new Date(clock.now() + flow.retry.baseDelayMs).toISOString(),
          })
        } else {
          // The document is safely in S-Drive; only the tidy-up failed. The ledger keeps the
          // file from being taken again, and the item says exactly what is left to do by hand.
          metrics.failure(flow.name, e.code)
          await setItem(item, 'failed', {
            finalPath: currentLocation(item),
            error: {
              code: e.code,
              message: `uploaded to S-Drive as ${item.sdriveFileId}, but the source could not be disposed of: ${e.message}`,
            },
          })
        }
      }
    }
    // Each file's tidy-up is a few round trips: they run side by side within the endpoint's cap,
    // and a batch's files are tidied up as soon as that batch is done, while later batches upload.
    const width = Math.max(1, deps.endpoints.get(flow.source.endpoint)?.maxConnections ?? 1)
    const tidyUp = new PQueue({ concurrency: width })
    const tidied = new Set<string>()
    const tidy = (items: ItemRecord[]) => {
      for (const item of items) {
        if (item.state !== 'finalizing' || waitsForFolder(item) || tidied.has(item.id)) continue
        tidied.add(item.id)
        tidyUp
          .add(async () => {
            if (!ctx.signal.aborted) await finalizeOne(item)
          })
          .catch((error) =>
            logger.error({ item: item.id, err: toBridgeError(error).message }, 'tidy-up failed unexpectedly'),
          )
      }
    }
    await Promise.all(
      batches.map((batch) =>
        transferBatch(ctx, batch)
          .catch((error) =>
            logger.error({ flow: flow.name, err: toBridgeError(error).message }, 'batch failed unexpectedly'),
          )
          .finally(() => {
            for (const item of batch) inFlight.get(runId)?.delete(item.id)
            announce(runId, true)
          })
          .then(async () => {
            if (ctx.signal.aborted) return
            const fresh = await Promise.all(batch.map((i) => store.getItem(i.id)))
            tidy(fresh.filter((i): i is ItemRecord => i !== null))
          })
          // Not lost: whatever was not tidied up here is picked up after the last batch.
          .catch((error) =>
            logger.warn({ flow: flow.name, err: toBridgeError(error).message }, 'tidy-up deferred'),
          ),
      ),
    )

    await applyFolders(await store.listItems(runId))
    shutdown.signal.throwIfAborted()
    tidy(await store.listItems(runId))
    await tidyUp.onIdle()
    shutdown.signal.throwIfAborted()
    for (const item of (await store.listItems(runId)).filter((i) => failureUnreported(flow, i))) {
      await handleFailed(flow, item).catch((error) =>
        logger.warn(
          { item: item.id, err: toBridgeError(error).message },
          'could not move file to the error folder',
        ),
      )
    }

    shutdown.signal.throwIfAborted()
    announce(runId, true)
    const counts = await store.runCounts(runId)
    let finalState = finalRunState(counts)
    if (finalState === 'succeeded' && flow.kind === 'status') {
      // A status file with rejected rows was applied in part: the run says so.
      const partly = (await store.listItems(runId)).some((i) => (statusDetailOf(i)?.rowsRejected ?? 0) > 0)
      if (partly) finalState = 'partially_failed'
    }
    if (finalState !== null) {
      await store.updateRun(runId, { state: finalState, finishedAt: new Date(clock.now()).toISOString() })
      metrics.runFinished(flow.name, finalState)
      return null
    }
    const remaining = await store.listItems(runId)
    const next = remaining
      .filter((i) => ACTIVE.includes(i.state))
      .map((i) => (i.nextAttemptAt ? Date.parse(i.nextAttemptAt) : clock.now() + flow.retry.baseDelayMs))
    return Math.max(clock.now(), Math.min(...next))
  }

  function runSignal(runId: string): AbortSignal {
    const lost = runAborts.get(runId)?.signal
    return lost ? AbortSignal.any([shutdown.signal, lost]) : shutdown.signal
  }

  async function drive(flow: SourceFolderFlow, run: RunRecord, withDiscovery: boolean): Promise<void> {
    const lost = runAborts.get(run.id)?.signal ?? new AbortController().signal
    activeFlows.set(flow.name, (activeFlows.get(flow.name) ?? 0) + 1)
    try {
      await store.updateRun(run.id, {
        state: 'running',
        startedAt: run.startedAt ?? new Date(clock.now()).toISOString(),
      })
      if (withDiscovery) {
        // A name the org does not have fails the run before any file is listed, let alone moved.
        if (flow.kind === 'inbound') await deps.flowSchema?.assertConfigured(flow, shutdown.signal)
        for (let attempt = 1; ; attempt++) {
          try {
            await discover(flow, run)
            break
          } catch (error) {
            const e = toBridgeError(error, 'REMOTE_IO')
            if (!isTransient(e) || attempt >= flow.retry.maxAttempts || shutdown.signal.aborted) throw e
            logger.warn({ flow: flow.name, code: e.code, attempt }, 'listing failed; retrying')
            await clock.sleep(
              Math.min(flow.retry.maxDelayMs, flow.retry.baseDelayMs * 2 ** (attempt - 1)),
              shutdown.signal,
            )
          }
        }
      }
      for (;;) {
        if (drain.signal.aborted || lost.aborted) return
        const wake = await round(flow, run.id)
        if (wake === null) break
        await clock.sleep(
          Math.max(0, wake - clock.now()),
          AbortSignal.any([shutdown.signal, drain.signal, lost]),
        )
      }
    } catch (error) {
      // Stopped, not failed: after a shutdown the next start resumes it, after a lost lease its new owner does.
      if (shutdown.signal.aborted || drain.signal.aborted || lost.aborted) return
      let e = toBridgeError(error)
      if (e.code === 'FLOW_MISCONFIGURED' && flow.kind === 'inbound') e = await letGoOfFiles(flow, run.id, e)
      logger.error({ flow: flow.name, run: run.id, code: e.code, err: e.message }, 'run failed')
      metrics.failure(flow.name, e.code)
      await store.updateRun(run.id, {
        state: 'failed',
        finishedAt: new Date(clock.now()).toISOString(),
        error: { code: e.code, message: e.message },
      })
      metrics.runFinished(flow.name, 'failed')
    } finally {
      activeFlows.set(flow.name, (activeFlows.get(flow.name) ?? 1) - 1)
      inFlight.delete(run.id)
      lastProgressEmit.delete(run.id)
      events.emit('run-settled', run.id)
    }
  }

  /** Drives a run whose lease this process just claimed. */
  function launch(flow: SourceFolderFlow, run: RunRecord, withDiscovery: boolean): void {
    if (drivers.has(run.id)) return
    if (closed) {
      void deps.leases.release(run.id)
      return
    }
    const lostLease = new AbortController()
    runAborts.set(run.id, lostLease)
    deps.leases.hold(run.id, () => lostLease.abort(new BridgeError('CANCELLED', 'lease lost')))
    const driver = drive(flow, run, withDiscovery).finally(async () => {
      drivers.delete(run.id)
      runAborts.delete(run.id)
      await deps.leases.release(run.id)
      // A slot is free: take the next waiting run now rather than at the next claim tick.
      kick()
    })
    drivers.set(run.id, driver)
  }

  /** Claims in the background (one claim at a time); errors are logged, the next tick tries again. */
  function kick(): void {
    if (closed || !started) return
    claiming ??= claimAndLaunch()
      .catch((error) => logger.warn({ err: toBridgeError(error).message }, 'could not claim runs'))
      .finally(() => {
        claiming = null
      })
  }

  /** Claims runs of this engine's flows that nobody drives (all, or these ids) and drives them. */
  async function claimAndLaunch(ids?: string[], withDiscovery = true): Promise<void> {
    const room = (deps.maxActiveRuns ?? 50) - drivers.size
    if (closed || room <= 0) return
    const claimed = await deps.leases.claim([...deps.flows.keys()], ['queued', 'running'], {
      ...(ids ? { ids } : {}),
      limit: room,
    })
    for (const run of claimed) {
      const flow = deps.flows.get(run.flow)
      if (!flow) {
        await deps.leases.release(run.id)
        continue
      }
      if (!ids) logger.info({ run: run.id, flow: run.flow }, 'resuming run')
      launch(flow, run, withDiscovery)
    }
  }

  return {
    events,

    async startRun(flowName, options) {
      const flow = flowOf(flowName)
      if ((await store.activeItemCount()) >= deps.maxQueuedItems || !deps.queue.hasRoom()) {
        throw new BridgeError('QUEUE_FULL', 'too many files are waiting; try again later', {
          transient: true,
          details: { retryAfterSeconds: 30 },
        })
      }
      const result = await store.createRun({
        flow: flow.name,
        trigger: options.trigger,
        ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
        ...(options.requestHash ? { requestHash: options.requestHash } : {}),
      })
      if (result.outcome === 'conflict') {
        throw new BridgeError('CONFLICT', 'Idempotency-Key was already used with a different request', {
          details: { runId: result.run.id },
        })
      }
      if (result.outcome === 'created') await claimAndLaunch([result.run.id])
      return { run: result.run, created: result.outcome === 'created' }
    },

    async dryRun(flowName, signal) {
      const flow = flowOf(flowName)
      if (flow.kind === 'inbound') await deps.flowSchema?.assertConfigured(flow, signal)
      const remote = deps.remotes.get(flow.source.endpoint)
      const discovered = await discoverFiles({ remote, flow, clock, ...(signal ? { signal } : {}) })
      const ours = (path: string) => flow.kind === 'status' && isErrorReport(path)
      const notes = discovered.notes.filter((n) => !ours(n.path))
      const ready = discovered.ready.filter((f) => !ours(f.name))
      const owners = await store.ledgerOwners(ready.map((f) => ledgerKey(flow.source.endpoint, f)))
      const files: PlannedFile[] = notes.map((n) => ({
        path: n.path,
        size: 0,
        // A name that cannot be read back is never taken: shown as a failure, not as something to wait for.
        action: n.reason === 'UNREADABLE_FILE_NAME' ? 'fail' : 'wait',
        target: null,
        reason: n.message,
        code: n.reason,
      }))
      let fresh = ready.filter((f) => {
        const owner = owners.get(ledgerKey(flow.source.endpoint, f))
        if (!owner) return true
        files.push({
          path: f.path,
          size: f.size,
          action: 'already-processed',
          target: null,
          reason: `item ${owner.itemId} (${owner.state})`,
          code: 'ALREADY_PROCESSED',
        })
        return false
      })
      if (flow.kind === 'status') {
        for (const f of fresh) {
          files.push({
            path: f.path,
            size: f.size,
            action: 'apply',
            target: null,
            reason: `status file: rows update ${flow.object} records`,
            code: null,
          })
        }
        files.sort((a, b) => a.path.localeCompare(b.path))
        return { flow: flow.name, files }
      }
      const resubmissions = await correlateResubmissions(flow, fresh, store, deps.sdrive, signal)
      for (const [f, { review, target }] of resubmissions) {
        files.push({
          path: f.path,
          size: f.size,
          action: 'resubmission',
          target: { object: target.object, recordId: target.recordId, fileObject: target.fileObject },
          reason: `answers rejection ${review.correlationId} of ${review.originalName} (${flow.review?.resubmission ?? 'version'})`,
          code: null,
        })
      }
      fresh = fresh.filter((f) => !resubmissions.has(f))
      const matches = await matchFiles(fresh, flow, deps.sf, signal)
      const matched = fresh.filter((f) => matches.get(f)?.ok)
      const existing = new Map<string, number>()
      const byObject = new Map<string, DiscoveredFile[]>()
      for (const f of matched) {
        const m = matches.get(f) as { ok: true; target: NonNullable<ItemRecord['target']> }
        const k = `${m.target.fileObject}\u0000${m.target.parentField}`
        byObject.set(k, [...(byObject.get(k) ?? []), f])
      }
      for (const [k, group] of byObject) {
        const [fileObject, parentField] = k.split('\u0000') as [string, string]
        const targets = group.map(
          (f) => (matches.get(f) as { ok: true; target: NonNullable<ItemRecord['target']> }).target,
        )
        const found = await deps.sdrive.findFiles(
          fileObject,
          parentField,
          [...new Set(targets.map((t) => t.recordId))],
          [...new Set(group.map((f) => sdriveFileName(f.name)))],
          signal ? { signal } : {},
        )
        for (const file of found) {
          const key = `${file.parentId.slice(0, 15)}\u0000${file.fileName}`
          existing.set(key, (existing.get(key) ?? 0) + 1)
        }
      }
      for (const f of fresh) {
        const m = matches.get(f)
        if (!m?.ok) {
          files.push({
            path: f.path,
            size: f.size,
            action: 'fail',
            target: null,
            reason: m?.message ?? null,
            code: m?.code ?? null,
          })
          continue
        }
        const exists = existing.has(`${m.target.recordId.slice(0, 15)}\u0000${sdriveFileName(f.name)}`)
        const action: PlannedAction = !exists ? 'upload' : flow.existing
        files.push({
          path: f.path,
          size: f.size,
          action,
          target: { object: m.target.object, recordId: m.target.recordId, fileObject: m.target.fileObject },
          reason: exists ? `a file named ${sdriveFileName(f.name)} is already on the record` : null,
          code: null,
        })
      }
      files.sort((a, b) => a.path.localeCompare(b.path))
      return { flow: flow.name, files }
    },

    async retryRun(runId) {
      const run = await store.getRun(runId)
      if (!run) throw new BridgeError('NOT_FOUND', `run ${runId} does not exist`, { details: { runId } })
      flowOf(run.flow)
      const failed = (await store.listItems(runId)).filter((i) => i.state === 'failed')
      for (const item of failed) {
        // A file that failed matching is matched again: the record may exist by now.
        const rematch =
          item.error?.code === 'NO_MATCHING_RECORD' ||
          item.error?.code === 'AMBIGUOUS_RECORD' ||
          item.error?.code === 'NO_MATCH_RULE'
        const pending = await setItem(item, 'pending', {
          attempts: 0,
          nextAttemptAt: null,
          // The reason beside the file is removed below: a new failure writes it again.
          error: item.error ? { code: item.error.code, message: item.error.message } : null,
          // An operator's retry starts the file afresh: its takeover count too.
          ...(rematch
            ? { target: null }
            : item.target
              ? { target: { ...item.target, interruptions: 0 } }
              : {}),
        })
        // Already in S-Drive (only the tidy-up failed): never upload it again.
        if (item.sdriveFileId !== null) await setItem(pending, 'finalizing')
        if (item.finalPath) {
          const remote = deps.remotes.get(item.endpoint)
          const errorJson = `${currentLocation(item)}.error.json`
          await remote.delete(errorJson).catch(() => undefined)
        }
      }
      const updated =
        failed.length > 0
          ? await store.updateRun(runId, { state: 'running', finishedAt: null, error: null })
          : run
      if (failed.length > 0) {
        // A retry of a run that is still being driven (here or by another process) joins that driver's next round.
        if (!drivers.has(runId)) await claimAndLaunch([runId], false)
      }
      return { run: updated, retried: failed.length }
    },

    async recover() {
      started = true
      await claimAndLaunch()
      const every = deps.claimIntervalMs ?? Math.max(100, Math.floor(deps.leases.leaseMs / 2))
      claimTimer = setInterval(kick, every)
      claimTimer.unref()
    },

    async settled(runId) {
      await drivers.get(runId)
    },

    hasActiveRun: async (flow) =>
      (activeFlows.get(flow) ?? 0) > 0 || (await store.countRuns(['queued', 'running'], [flow])) > 0,

    inFlightBytes: (runId) => inFlight.get(runId) ?? new Map(),

    async close(options = {}) {
      if (closed) return
      closed = true
      clearInterval(claimTimer)
      await claiming
      drain.abort(new BridgeError('CANCELLED', 'service is shutting down'))
      await settleWithin([...drivers.values()], options.graceMs ?? 0)
      shutdown.abort(new BridgeError('CANCELLED', 'service is shutting down'))
      await Promise.allSettled([...drivers.values()])
    },
  }
}
