/**
 * Uploads one batch of files bound for the same S-Drive parent: one POST
 * for all of them, one streamed S3 upload each, one PUT for all that
 * arrived. Any WIP record that did not complete is cancelled, so nothing
 * half-uploaded stays visible. Leftovers of an interrupted attempt (a crash,
 * a lost PUT answer) are reconciled first, so a retry never duplicates.
 */
import type { Readable } from 'node:stream'
import mime from 'mime'
import type { Logger } from 'pino'
import type { SourceFlow } from '../../config/schema.js'
import { interruptionsExhausted, retryDelayAfterFault } from '../../domain/attempts.js'
import { BridgeError, isTransient, toBridgeError } from '../../domain/errors.js'
import { sdriveFileName, withoutControlCharacters } from '../../domain/file-names.js'
import { renderTemplate } from '../../domain/templates.js'
import type { Clock } from '../../ports/clock.js'
import type { RemoteFiles } from '../../ports/remote-files.js'
import type { SDrive, SDriveTarget, UploadTicket } from '../../ports/sdrive.js'
import type { ItemPatch, ItemRecord, ItemTarget, Store } from '../../ports/store.js'
import type { TransferQueue } from '../../queue/transfer-queue.js'
import type { RunEvents } from '../../runs/events.js'
import { moveItem, placeItem } from '../../runs/items.js'
import { composeBytePath } from '../../transfer/byte-pipeline.js'
import { inboundByteStages } from '../../transfer/byte-stages.js'
import { readResumably } from '../../transfer/resumable-read.js'
import { emptyTally, type TransferTally, withTally } from '../../transfer/resume-support.js'
import type { CompletionSlot, Completions } from './completions.js'
import { decryptBatch, type Plaintext, readPlaintext } from './decrypt.js'
import { currentLocation } from './dispose.js'

export interface BatchContext {
  flow: SourceFlow
  remote: RemoteFiles
  store: Store
  sdrive: SDrive
  queue: TransferQueue
  clock: Clock
  logger: Logger
  /** Faults, retries and transfer times are reported here. */
  events: RunEvents
  signal: AbortSignal
  /** Bytes streamed so far for a file in flight (progress reporting). */
  onProgress?: (item: ItemRecord, bytes: number) => void
  /** Aborted when the service drains: files not started yet are left for the next start. */
  draining?: AbortSignal
  /** PGP flows: the decrypted files by item id, uploaded instead of the remote ones. */
  plaintexts?: ReadonlyMap<string, Plaintext>
  /** The round's shared PUT /files: batches for different records complete together. */
  completions: Completions
}

/** A batch's context: the round's, and its own place among the batches completing together. */
interface BatchRun extends BatchContext {
  completion: CompletionSlot
}

const opts = (signal: AbortSignal) => ({ signal })

export function sdriveTargetOf(target: ItemTarget): SDriveTarget {
  return { parentId: target.recordId, fileObject: target.fileObject, parentField: target.parentField }
}

/** The name a file gets in S-Drive: its own, made S-Drive-safe, or the one its target asks for (a resubmission keeps the original's). */
export function sdriveNameOf(item: ItemRecord): string {
  return item.target?.sdriveName ?? sdriveFileName(item.name)
}

export function contentTypeOf(name: string): string {
  return mime.getType(name) ?? 'application/octet-stream'
}

/** The item's target with some fields changed (a flag of its progress). */
function retarget(item: ItemRecord, patch: Partial<ItemTarget>): ItemTarget {
  const target = { ...(item.target as ItemTarget), ...patch }
  if (!target.uploadRequested) delete target.uploadRequested
  return target
}

/**
 * A real fault of the file's own transfer, on its `attempts`-th try: back to pending with a delay
 * while attempts remain and the fault is transient, else failed.
 */
async function settleFault(
  ctx: BatchContext,
  item: ItemRecord,
  error: BridgeError,
  attempts: number,
): Promise<ItemRecord> {
  // Shutting down or losing the run is not the file's fault: leave the item; whoever drives the run next reconciles it.
  if (ctx.signal.aborted) return item
  const retry = ctx.flow.retry
  const err = { code: error.code, message: error.message }
  ctx.events.emit({
    type: 'fault',
    flow: ctx.flow.name,
    code: error.code,
    runId: item.runId,
    itemId: item.id,
  })
  if (error.code === 'API_LIMIT_EXCEEDED') {
    // The org is at its daily API limit: the flow pauses (the longest backoff, again and again) and
    // the file keeps its attempts for faults of its own.
    ctx.logger.warn({ item: item.id, pauseMs: retry.maxDelayMs }, 'Salesforce API limit reached; pausing')
    return placeItem(ctx.store, item, 'pending', {
      attempts: Math.max(0, attempts - 1),
      error: err,
      nextAttemptAt: new Date(ctx.clock.now() + retry.maxDelayMs).toISOString(),
    })
  }
  const delay = retryDelayAfterFault(attempts, isTransient(error), retry)
  if (delay !== null) {
    ctx.events.emit({
      type: 'item-finished',
      flow: ctx.flow.name,
      runId: item.runId,
      itemId: item.id,
      outcome: 'retrying',
      bytes: 0,
    })
    ctx.logger.warn(
      { item: item.id, code: error.code, attempt: attempts, delayMs: delay },
      'transfer will be retried',
    )
    return placeItem(ctx.store, item, 'pending', {
      attempts,
      error: err,
      nextAttemptAt: new Date(ctx.clock.now() + delay).toISOString(),
    })
  }
  ctx.logger.error({ item: item.id, code: error.code, attempts }, 'transfer failed permanently')
  return placeItem(ctx.store, item, 'failed', { attempts, error: err, nextAttemptAt: null })
}

/** A fault of a started transfer: its attempt was counted when it started. */
function failAttempt(ctx: BatchContext, item: ItemRecord, error: BridgeError): Promise<ItemRecord> {
  return settleFault(ctx, item, error, item.attempts)
}

/**
 * A fault of the file's transfer before its bytes started (its upload request, its ticket): one
 * attempt. Not started because the service is draining or stopping: no attempt, it stays pending.
 */
function failBeforeStart(ctx: BatchContext, item: ItemRecord, error: BridgeError): Promise<ItemRecord> {
  if (error.code === 'CANCELLED') return Promise.resolve(item)
  return settleFault(ctx, item, error, item.attempts + 1)
}

/**
 * A file found transferring when its batch begins: its transfer was cut by a takeover (its process
 * died, stopped or lost the run). Not the file's fault: the attempt is given back and the
 * interruption counted; only after MAX_INTERRUPTIONS does the file fail.
 */
async function releaseInterrupted(ctx: BatchContext, item: ItemRecord): Promise<ItemRecord> {
  const interruptions = (item.target?.interruptions ?? 0) + 1
  const patch: ItemPatch = {
    attempts: Math.max(0, item.attempts - 1),
    wipFileId: null,
    target: retarget(item, { uploadRequested: false, interruptions }),
  }
  if (!interruptionsExhausted(interruptions)) {
    ctx.logger.info({ item: item.id, interruptions }, 'transfer was cut by a takeover; no attempt used')
    return moveItem(ctx.store, item, 'pending', patch)
  }
  ctx.events.emit({
    type: 'fault',
    flow: ctx.flow.name,
    code: 'TRANSFER_INTERRUPTED',
    runId: item.runId,
    itemId: item.id,
  })
  ctx.logger.error({ item: item.id, interruptions }, 'transfer cut by takeovers too often; failed')
  return moveItem(ctx.store, item, 'failed', {
    ...patch,
    error: {
      code: 'TRANSFER_INTERRUPTED',
      message: `the transfer was cut ${interruptions} times by a stopped or replaced process`,
    },
    nextAttemptAt: null,
  })
}

/** Files whose earlier try may have left something in S-Drive: a WIP record, or a completed upload. */
function isLeftover(item: ItemRecord): boolean {
  return item.state === 'transferring' || item.wipFileId !== null || item.target?.uploadRequested === true
}

/**
 * Settles what an interrupted attempt left: a WIP record completed by a PUT
 * whose answer was lost means the file is in S-Drive (→ finalizing); any
 * other WIP record of these files is cancelled. Returns the files still to
 * upload (pending).
 */
async function reconcile(
  ctx: BatchContext,
  target: SDriveTarget,
  items: ItemRecord[],
): Promise<ItemRecord[]> {
  const leftovers = items.filter(isLeftover)
  if (leftovers.length === 0) return items
  const names = leftovers.map((i) => sdriveNameOf(i))
  const finished = await ctx.sdrive.findFiles(
    target.fileObject,
    target.parentField,
    [target.parentId],
    names,
    opts(ctx.signal),
  )
  const finishedIds = new Set(finished.map((f) => f.id))
  const wips = await ctx.sdrive.findWipFiles(
    target.fileObject,
    target.parentField,
    [target.parentId],
    opts(ctx.signal),
  )
  const leftoverWipIds = new Set(leftovers.map((i) => i.wipFileId).filter((id): id is string => id !== null))
  const orphanNames = new Set(leftovers.filter((i) => i.wipFileId === null).map((i) => sdriveNameOf(i)))
  const toCancel = wips
    .filter((w) => leftoverWipIds.has(w.id) || orphanNames.has(w.fileName))
    .map((w) => w.id)
  if (toCancel.length > 0) {
    await ctx.sdrive.cancelUpload(target, toCancel, opts(ctx.signal))
    ctx.logger.info(
      { flow: ctx.flow.name, cancelled: toCancel.length },
      'cancelled WIP records of an interrupted attempt',
    )
  }

  const remaining: ItemRecord[] = []
  for (const item of items) {
    if (item.wipFileId !== null && finishedIds.has(item.wipFileId)) {
      await moveItem(ctx.store, item, 'finalizing', { sdriveFileId: item.wipFileId, error: null })
      continue
    }
    if (item.state === 'transferring') {
      const released = await releaseInterrupted(ctx, item)
      if (released.state === 'pending') remaining.push(released)
    } else if (isLeftover(item)) {
      remaining.push(
        await ctx.store.updateItem(item.id, {
          wipFileId: null,
          target: retarget(item, { uploadRequested: false }),
        }),
      )
    } else {
      remaining.push(item)
    }
  }
  return remaining
}

/**
 * A plain MD5 ETag must equal what we sent. Multipart or KMS-encrypted
 * objects have ETags that are not an MD5 (a "-N" suffix, or not hex), and
 * cannot be checked this way.
 */
export function etagMatches(etag: string | null, md5: string): boolean {
  if (etag === null) return true
  const bare = etag.replace(/^W\//, '').replace(/"/g, '').toLowerCase()
  if (!/^[0-9a-f]{32}$/.test(bare)) return true
  return bare === md5
}

interface Uploaded {
  item: ItemRecord
  versionId: string | null
  sha256: string
  bytes: number
  /** Bytes read over the wire and continuations of this attempt. */
  tally: TransferTally
}

/**
 * A file's transfer starts when the upload queue hands it to a worker: only then is it
 * transferring, with one more attempt. A file still waiting is pending.
 */
async function startTransfer(ctx: BatchContext, item: ItemRecord): Promise<ItemRecord> {
  if (ctx.draining?.aborted) throw new BridgeError('CANCELLED', 'not started: the service is draining')
  if (ctx.signal.aborted) throw new BridgeError('CANCELLED', 'not started: the run stopped here')
  return moveItem(ctx.store, item, 'transferring', {
    attempts: item.attempts + 1,
    error: null,
    nextAttemptAt: null,
  })
}

async function uploadOne(
  ctx: BatchContext,
  item: ItemRecord,
  ticket: UploadTicket,
  onStart: (started: ItemRecord) => void,
): Promise<Uploaded> {
  let started = process.hrtime.bigint()
  const tally = emptyTally()
  const location = currentLocation(item)
  const result = await ctx.queue
    .run(ctx.remote.endpoint, async () => {
      const transferring = await startTransfer(ctx, item)
      onStart(transferring)
      started = process.hrtime.bigint()
      const plaintext = ctx.plaintexts?.get(item.id)
      const consume = (stream: Readable) => streamToS3(ctx, item, ticket, stream)
      // A decrypted file is read from its private temp file; the remote read already happened.
      if (plaintext) return readPlaintext(plaintext, consume)
      return readResumably(ctx.remote, { path: location, listed: item, signal: ctx.signal, tally }, consume)
    })
    .catch(async (error: unknown) => {
      // A failed attempt's bytes crossed the wire too; the item keeps the count across attempts.
      if (tally.bytesMoved > 0 || tally.resumes > 0) {
        const fresh = await ctx.store.getItem(item.id)
        if (fresh) await ctx.store.updateItem(item.id, withTally(fresh, tally))
      }
      throw error
    })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  ctx.events.emit({ type: 'transfer-timed', flow: ctx.flow.name, seconds })
  // Stored with the batch's move to finalizing, not here: a commit per file costs an fsync per
  // file, and until S-Drive completed the upload the digest means nothing (a retry uploads again).
  return { item, versionId: result.versionId, sha256: result.sha256, bytes: result.bytes, tally }
}

/** Sends the remote file's bytes through the inbound byte path to S3 and checks what S3 stored. */
async function streamToS3(
  ctx: BatchContext,
  item: ItemRecord,
  ticket: UploadTicket,
  source: Readable,
): Promise<{ versionId: string | null; bytes: number; sha256: string }> {
  const bytePath = composeBytePath({
    source,
    stages: inboundByteStages({ size: item.size, onProgress: (bytes) => ctx.onProgress?.(item, bytes) }),
    signal: ctx.signal,
  })
  const contentType = contentTypeOf(item.name)
  const upload = ctx.sdrive.uploadToS3(ticket, bytePath.stream, item.size, contentType, opts(ctx.signal))
  // If S3 gives up first, stop reading the source too: destroying the path's end destroys its source.
  upload.catch((error: unknown) => bytePath.stream.destroy(error as Error))
  const [s3] = await Promise.all([upload, bytePath.done])
  const { sha256, md5, bytes } = bytePath.results().hashing
  if (!etagMatches(s3.etag, md5 as string)) {
    throw new BridgeError(
      'CHECKSUM_MISMATCH',
      `S3 stored different bytes: ETag ${s3.etag}, sent MD5 ${md5}`,
      {
        transient: true,
      },
    )
  }
  return { versionId: s3.versionId, bytes, sha256 }
}

function descriptionOf(ctx: BatchContext, item: ItemRecord, target: ItemTarget): string | undefined {
  if (target.description === null) return undefined
  return renderTemplate(target.description, {
    flow: ctx.flow.name,
    // The partner's names go into Salesforce metadata without their control characters.
    'file.name': withoutControlCharacters(item.name),
    'file.path': withoutControlCharacters(item.path),
    'run.id': item.runId,
    'record.id': target.recordId,
    date: new Date(ctx.clock.now()).toISOString().slice(0, 10),
  })
}

/** Why each file that did not make it failed, and whether its transfer had started. */
interface Failure {
  item: ItemRecord
  error: BridgeError
  started: boolean
}

/** Runs one batch to the end of its attempt. Items end finalizing, pending (retry later) or failed. */
export async function transferBatch(ctx: BatchContext, batch: ItemRecord[]): Promise<void> {
  const completion = ctx.completions.join()
  try {
    await transferJoined({ ...ctx, completion }, batch)
  } finally {
    completion.leave()
  }
}

async function transferJoined(ctx: BatchRun, batch: ItemRecord[]): Promise<void> {
  const first = batch[0]
  if (!first?.target) return
  const target = sdriveTargetOf(first.target)

  let items: ItemRecord[]
  try {
    items = await reconcile(ctx, target, batch)
  } catch (error) {
    // Cannot tell what an earlier attempt left: try again later rather than risk a duplicate.
    // Not a fault of the files' transfers: no attempt is used.
    if (ctx.signal.aborted) return
    const e = toBridgeError(error, 'SDRIVE_ERROR')
    const nextAttemptAt = new Date(ctx.clock.now() + ctx.flow.retry.baseDelayMs).toISOString()
    for (const item of batch) {
      await ctx.store.updateItem(item.id, { error: { code: e.code, message: e.message }, nextAttemptAt })
    }
    return
  }
  if (items.length === 0) return
  if (!ctx.flow.pgp) return uploadBatch(ctx, target, first.target, items)
  // Decrypted and verified first: a file that fails here never reaches S-Drive (no WIP record).
  const decrypted = await decryptBatch(ctx, items)
  try {
    for (const { item, error } of decrypted.failed) await failBeforeStart(ctx, item, error)
    if (decrypted.items.length === 0) return
    await uploadBatch({ ...ctx, plaintexts: decrypted.plaintexts }, target, first.target, decrypted.items)
  } finally {
    await decrypted.dispose()
  }
}

/** Tickets for the batch (one POST), one streamed S3 upload each, one PUT for all that arrived. */
async function uploadBatch(
  ctx: BatchRun,
  target: SDriveTarget,
  itemTarget: ItemTarget,
  items: ItemRecord[],
): Promise<void> {
  const tickets = await requestTickets(ctx, target, itemTarget, items)
  if (tickets === null) return

  const startedItems = new Map<string, ItemRecord>()
  const settled = await Promise.allSettled(
    items.map(async (item) => {
      const ticket = tickets.get(item.id)
      if (!ticket)
        throw toBridgeError(new Error('S-Drive returned no upload ticket for this file'), 'SDRIVE_ERROR')
      return uploadOne(ctx, { ...item, wipFileId: ticket.wipFileId }, ticket, (started) =>
        startedItems.set(item.id, started),
      )
    }),
  )

  const uploaded: Uploaded[] = []
  const failed: Failure[] = []
  settled.forEach((s, i) => {
    const item = items[i] as ItemRecord
    if (s.status === 'fulfilled') uploaded.push(s.value)
    else {
      const started = startedItems.get(item.id)
      failed.push({
        item: started ?? item,
        error: toBridgeError(s.reason, 'S3_UPLOAD_FAILED'),
        started: started !== undefined,
      })
    }
  })

  const unchanged = uploaded.filter((u) => u.item.target?.currentSha256 === u.sha256)
  const changed = uploaded.filter((u) => !unchanged.includes(u))
  if (unchanged.length > 0) failed.push(...(await keepCurrentVersions(ctx, target, unchanged)))
  if (changed.length > 0) failed.push(...(await completeUploads(ctx, changed)))
  if (failed.length > 0) await settleFailures(ctx, target, tickets, failed)
}

/**
 * Files whose bytes equal their current version's (`existing: version`): their WIP records are
 * cancelled instead of completed, so no version is made, and they go on as skipped (UNCHANGED).
 * If the cancel fails they are settled like any failure, which cancels again; a crash before
 * they are stored leaves them transferring, and the next attempt finds no completed upload.
 */
async function keepCurrentVersions(
  ctx: BatchContext,
  target: SDriveTarget,
  unchanged: Uploaded[],
): Promise<Failure[]> {
  try {
    await ctx.sdrive.cancelUpload(
      target,
      unchanged.map((u) => u.item.wipFileId as string),
      opts(ctx.signal),
    )
  } catch (error) {
    const e = toBridgeError(error, 'SDRIVE_ERROR')
    return unchanged.map((u) => ({ item: u.item, error: e, started: true }))
  }
  // Side by side, so the store commits the whole batch's new states at once.
  await Promise.all(
    unchanged.map(async (u) => {
      const fresh = (await ctx.store.getItem(u.item.id)) as ItemRecord
      const current = (fresh.target?.versionOf ?? [])[0] ?? null
      await moveItem(ctx.store, fresh, 'finalizing', {
        wipFileId: null,
        sdriveFileId: current,
        sha256: u.sha256,
        bytesTransferred: u.bytes,
        ...withTally(fresh, u.tally),
        target: retarget(fresh, {
          uploadRequested: false,
          alreadyInSDrive: true,
          unchanged: true,
          supersedeIds: [],
        }),
      })
    }),
  )
  return []
}

/**
 * Asks S-Drive for the batch's upload tickets (one POST) and stores each file's WIP id. Returns
 * null when the request failed; the files were then retried or failed, one attempt each.
 */
async function requestTickets(
  ctx: BatchContext,
  target: SDriveTarget,
  itemTarget: ItemTarget,
  pending: ItemRecord[],
): Promise<Map<string, UploadTicket> | null> {
  // Side by side, so the store commits the whole batch's flags at once.
  const items = await Promise.all(
    pending.map((item) =>
      ctx.store.updateItem(item.id, { target: retarget(item, { uploadRequested: true }) }),
    ),
  )
  let tickets: UploadTicket[]
  try {
    tickets = await ctx.sdrive.startUpload(
      target,
      items.map((item, i) => {
        const description = descriptionOf(ctx, item, itemTarget)
        return {
          fileName: sdriveNameOf(item),
          // The size of what is uploaded: a decrypted file's is its plaintext's, not the stored one's.
          sizeBytes: (pending[i] as ItemRecord).size,
          contentType: contentTypeOf(item.name),
          ...(description === undefined ? {} : { description }),
        }
      }),
      opts(ctx.signal),
    )
  } catch (error) {
    const e = toBridgeError(error, 'SDRIVE_ERROR')
    if (!isTransient(e) && items.length > 1) {
      // S-Drive validates the whole request, and refused it (nothing was created): find the file it
      // objects to by trying each alone.
      const singles = await Promise.all(
        items.map((item) =>
          ctx.store.updateItem(item.id, { target: retarget(item, { uploadRequested: false }) }),
        ),
      )
      for (const single of singles) await transferBatch(ctx, [single])
      return null
    }
    for (const item of items) await failBeforeStart(ctx, item, e)
    return null
  }

  const ticketByItem = new Map<string, UploadTicket>()
  const unclaimed = [...tickets]
  for (const item of items) {
    const name = sdriveNameOf(item)
    const index = unclaimed.findIndex((t) => t.fileName === name)
    const ticket = index >= 0 ? unclaimed.splice(index, 1)[0] : unclaimed.shift()
    if (ticket) ticketByItem.set(item.id, ticket)
  }
  // Side by side, so the store commits the whole batch's WIP ids at once.
  await Promise.all(
    [...ticketByItem].map(([id, ticket]) => ctx.store.updateItem(id, { wipFileId: ticket.wipFileId })),
  )
  return ticketByItem
}

/** Completes the uploaded files in S-Drive (one PUT, maybe shared with other batches) and moves them to finalizing; returns those it refused. */
async function completeUploads(ctx: BatchRun, uploaded: Uploaded[]): Promise<Failure[]> {
  const failed: Failure[] = []
  try {
    const results = await ctx.completion.complete(
      uploaded.map((u) => u.item.wipFileId as string),
      uploaded.map((u) => u.versionId),
    )
    const byWip = new Map(results.map((r) => [r.wipFileId, r]))
    const completed: Uploaded[] = []
    for (const u of uploaded) {
      const result = byWip.get(u.item.wipFileId as string)
      if (result && !result.success) {
        const error = toBridgeError(
          new Error(result.message ?? 'S-Drive did not complete the upload'),
          'SDRIVE_ERROR',
        )
        failed.push({ item: u.item, error, started: true })
      } else {
        completed.push(u)
      }
    }
    // Side by side, so the store commits the whole batch's new states at once.
    await Promise.all(
      completed.map(async (u) => {
        const wip = u.item.wipFileId as string
        const fresh = (await ctx.store.getItem(u.item.id)) as ItemRecord
        await moveItem(ctx.store, fresh, 'finalizing', {
          sdriveFileId: wip,
          wipFileId: wip,
          sha256: u.sha256,
          bytesTransferred: u.bytes,
          ...withTally(fresh, u.tally),
        })
      }),
    )
  } catch (error) {
    // The PUT may have landed even though its answer did not: keep the WIP ids,
    // the next attempt's reconcile() finds out which way it went.
    const e = toBridgeError(error, 'SDRIVE_ERROR')
    for (const u of uploaded) {
      const fresh = (await ctx.store.getItem(u.item.id)) as ItemRecord
      await failAttempt(ctx, fresh, e)
    }
  }
  return failed
}

/** Cancels the WIP records of the files that did not make it, then retries or fails each. */
async function settleFailures(
  ctx: BatchContext,
  target: SDriveTarget,
  tickets: ReadonlyMap<string, UploadTicket>,
  failed: Failure[],
): Promise<void> {
  const wipIds = failed.map((f) => tickets.get(f.item.id)?.wipFileId).filter((id): id is string => !!id)
  let cancelled = false
  try {
    if (wipIds.length > 0) await ctx.sdrive.cancelUpload(target, wipIds, opts(ctx.signal))
    cancelled = true
  } catch (error) {
    ctx.logger.warn(
      { flow: ctx.flow.name, err: toBridgeError(error).message },
      'could not cancel WIP records; will retry',
    )
  }
  for (const { item, error, started } of failed) {
    const fresh = (await ctx.store.getItem(item.id)) as ItemRecord
    const patched = cancelled
      ? await ctx.store.updateItem(fresh.id, {
          wipFileId: null,
          target: retarget(fresh, { uploadRequested: false }),
        })
      : fresh
    if (started) await failAttempt(ctx, patched, error)
    else await failBeforeStart(ctx, patched, error)
  }
}
