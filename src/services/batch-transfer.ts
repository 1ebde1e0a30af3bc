/**
 * Uploads one batch of files bound for the same S-Drive parent: one POST
 * for all of them, one streamed S3 upload each, one PUT for all that
 * arrived. Any WIP record that did not complete is cancelled, so nothing
 * half-uploaded stays visible. Leftovers of an interrupted attempt (a crash,
 * a lost PUT answer) are reconciled first, so a retry never duplicates.
 */
import { pipeline } from 'node:stream/promises'
import mime from 'mime'
import type { Logger } from 'pino'
import type { SourceFlow } from '../config/schema.js'
import { backoffDelay } from '../domain/backoff.js'
import { BridgeError, isTransient, toBridgeError } from '../domain/errors.js'
import { sdriveFileName, withoutControlCharacters } from '../domain/file-names.js'
import { assertTransition } from '../domain/item-state.js'
import { renderTemplate } from '../domain/templates.js'
import type { Clock } from '../ports/clock.js'
import type { BridgeMetrics } from '../ports/metrics.js'
import type { RemoteFiles } from '../ports/remote-files.js'
import type { SDrive, SDriveTarget, UploadTicket } from '../ports/sdrive.js'
import type { ItemPatch, ItemRecord, ItemState, ItemTarget, Store } from '../ports/store.js'
import type { TransferQueue } from '../queue/transfer-queue.js'
import { HashingStream } from './hashing-stream.js'
import { currentLocation } from './source-disposal.js'

export interface BatchContext {
  flow: SourceFlow
  remote: RemoteFiles
  store: Store
  sdrive: SDrive
  queue: TransferQueue
  clock: Clock
  logger: Logger
  metrics: BridgeMetrics
  signal: AbortSignal
  /** Bytes streamed so far for a file in flight (progress reporting). */
  onProgress?: (item: ItemRecord, bytes: number) => void
  /** Aborted when the service drains: files not started yet are left for the next start. */
  draining?: AbortSignal
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

async function move(
  ctx: BatchContext,
  item: ItemRecord,
  to: ItemState,
  patch: ItemPatch = {},
): Promise<ItemRecord> {
  assertTransition(item.state, to)
  return ctx.store.updateItem(item.id, { ...patch, state: to })
}

/** A failed attempt: back to pending with a delay while attempts remain and the fault is transient. */
async function failAttempt(ctx: BatchContext, item: ItemRecord, error: BridgeError): Promise<ItemRecord> {
  // Shutting down is not the file's fault: leave the item as it is; the next start reconciles it.
  if (ctx.signal.aborted) return item
  if (error.code === 'CANCELLED' && ctx.draining?.aborted) {
    return move(ctx, item, 'pending', { attempts: Math.max(0, item.attempts - 1), nextAttemptAt: null })
  }
  const retry = ctx.flow.retry
  const err = { code: error.code, message: error.message }
  ctx.metrics.failure(ctx.flow.name, error.code)
  if (error.code === 'API_LIMIT_EXCEEDED') {
    // The org is at its daily API limit: the flow pauses (the longest backoff, again and again) and
    // the file keeps its attempts for faults of its own.
    ctx.logger.warn({ item: item.id, pauseMs: retry.maxDelayMs }, 'Salesforce API limit reached; pausing')
    return move(ctx, item, 'pending', {
      attempts: Math.max(0, item.attempts - 1),
      error: err,
      nextAttemptAt: new Date(ctx.clock.now() + retry.maxDelayMs).toISOString(),
    })
  }
  if (isTransient(error) && item.attempts < retry.maxAttempts) {
    const delay = backoffDelay(item.attempts - 1, { baseMs: retry.baseDelayMs, maxMs: retry.maxDelayMs })
    ctx.metrics.fileFinished(ctx.flow.name, 'retrying', 0)
    ctx.logger.warn(
      { item: item.id, code: error.code, attempt: item.attempts, delayMs: delay },
      'transfer will be retried',
    )
    return move(ctx, item, 'pending', {
      error: err,
      nextAttemptAt: new Date(ctx.clock.now() + delay).toISOString(),
    })
  }
  ctx.logger.error(
    { item: item.id, code: error.code, attempts: item.attempts },
    'transfer failed permanently',
  )
  return move(ctx, item, 'failed', { error: err, nextAttemptAt: null })
}

/**
 * Settles what an interrupted attempt left: a WIP record completed by a PUT
 * whose answer was lost means the file is in S-Drive (→ finalizing); any
 * other WIP record of these files is cancelled.
 */
async function reconcile(
  ctx: BatchContext,
  target: SDriveTarget,
  items: ItemRecord[],
): Promise<ItemRecord[]> {
  const leftovers = items.filter((i) => i.state === 'transferring' || i.wipFileId !== null)
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
      const from = item.state === 'pending' ? { ...item, state: 'transferring' as const } : item
      await move(ctx, from, 'finalizing', { sdriveFileId: item.wipFileId, error: null })
      continue
    }
    if (item.state === 'transferring') {
      remaining.push(await move(ctx, item, 'pending', { wipFileId: null }))
    } else if (item.wipFileId !== null) {
      remaining.push(await ctx.store.updateItem(item.id, { wipFileId: null }))
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
}

async function uploadOne(ctx: BatchContext, item: ItemRecord, ticket: UploadTicket): Promise<Uploaded> {
  const started = process.hrtime.bigint()
  const contentType = contentTypeOf(item.name)
  const result = await ctx.queue.run(ctx.remote.endpoint, () => {
    if (ctx.draining?.aborted) throw new BridgeError('CANCELLED', 'not started: the service is draining')
    return ctx.remote.read(
      currentLocation(item),
      async (stream) => {
        const meter = new HashingStream(item.size, (bytes) => ctx.onProgress?.(item, bytes), { md5: true })
        const upload = ctx.sdrive.uploadToS3(ticket, meter, item.size, contentType, opts(ctx.signal))
        // If S3 gives up first, stop reading the source too.
        upload.catch((error: unknown) => stream.destroy(error as Error))
        const [s3] = await Promise.all([upload, pipeline(stream, meter)])
        const { sha256, md5 } = meter.digests()
        if (!etagMatches(s3.etag, md5 as string)) {
          throw new BridgeError(
            'CHECKSUM_MISMATCH',
            `S3 stored different bytes: ETag ${s3.etag}, sent MD5 ${md5}`,
            {
              transient: true,
            },
          )
        }
        return { versionId: s3.versionId, bytes: meter.bytes, sha256 }
      },
      opts(ctx.signal),
    )
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  ctx.metrics.transferDuration(ctx.flow.name, seconds)
  // Stored with the batch's move to finalizing, not here: a commit per file costs an fsync per
  // file, and until S-Drive completed the upload the digest means nothing (a retry uploads again).
  return { item, versionId: result.versionId, sha256: result.sha256, bytes: result.bytes }
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

/** Runs one batch to the end of its attempt. Items end finalizing, pending (retry later) or failed. */
export async function transferBatch(ctx: BatchContext, batch: ItemRecord[]): Promise<void> {
  const first = batch[0]
  if (!first?.target) return
  const target = sdriveTargetOf(first.target)

  let items: ItemRecord[]
  try {
    items = await reconcile(ctx, target, batch)
  } catch (error) {
    // Cannot tell what an earlier attempt left: try again later rather than risk a duplicate.
    const e = toBridgeError(error, 'SDRIVE_ERROR')
    for (const item of batch) {
      if (item.state === 'transferring') await failAttempt(ctx, item, e)
      else await ctx.store.updateItem(item.id, { error: { code: e.code, message: e.message } })
    }
    return
  }
  if (items.length === 0) return

  items = await Promise.all(
    items.map((item) =>
      move(ctx, item, 'transferring', { attempts: item.attempts + 1, error: null, nextAttemptAt: null }),
    ),
  )

  let tickets: UploadTicket[]
  try {
    tickets = await ctx.sdrive.startUpload(
      target,
      items.map((item) => {
        const description = descriptionOf(ctx, item, first.target as ItemTarget)
        return {
          fileName: sdriveNameOf(item),
          sizeBytes: item.size,
          contentType: contentTypeOf(item.name),
          ...(description === undefined ? {} : { description }),
        }
      }),
      opts(ctx.signal),
    )
  } catch (error) {
    const e = toBridgeError(error, 'SDRIVE_ERROR')
    if (!isTransient(e) && items.length > 1) {
      // S-Drive validates the whole request: find the file it objects to by trying each alone.
      const singles = await Promise.all(
        items.map((item) => move(ctx, item, 'pending', { attempts: item.attempts - 1 })),
      )
      for (const single of singles) await transferBatch(ctx, [single])
      return
    }
    for (const item of items) await failAttempt(ctx, item, e)
    return
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

  const settled = await Promise.allSettled(
    items.map(async (item) => {
      const ticket = ticketByItem.get(item.id)
      if (!ticket)
        throw toBridgeError(new Error('S-Drive returned no upload ticket for this file'), 'SDRIVE_ERROR')
      return uploadOne(ctx, { ...item, wipFileId: ticket.wipFileId }, ticket)
    }),
  )

  const uploaded: Uploaded[] = []
  const failed: { item: ItemRecord; error: BridgeError }[] = []
  settled.forEach((s, i) => {
    const item = items[i] as ItemRecord
    if (s.status === 'fulfilled') uploaded.push(s.value)
    else failed.push({ item, error: toBridgeError(s.reason, 'S3_UPLOAD_FAILED') })
  })

  if (uploaded.length > 0) {
    try {
      const results = await ctx.sdrive.completeUpload(
        uploaded.map((u) => u.item.wipFileId as string),
        uploaded.map((u) => u.versionId),
        opts(ctx.signal),
      )
      const byWip = new Map(results.map((r) => [r.wipFileId, r]))
      const completed: Uploaded[] = []
      for (const u of uploaded) {
        const result = byWip.get(u.item.wipFileId as string)
        if (result && !result.success) {
          failed.push({
            item: u.item,
            error: toBridgeError(
              new Error(result.message ?? 'S-Drive did not complete the upload'),
              'SDRIVE_ERROR',
            ),
          })
        } else {
          completed.push(u)
        }
      }
      // Side by side, so the store commits the whole batch's new states at once.
      await Promise.all(
        completed.map(async (u) => {
          const wip = u.item.wipFileId as string
          const fresh = (await ctx.store.getItem(u.item.id)) as ItemRecord
          await move(ctx, fresh, 'finalizing', {
            sdriveFileId: wip,
            wipFileId: wip,
            sha256: u.sha256,
            bytesTransferred: u.bytes,
          })
        }),
      )
    } catch (error) {
      // The PUT may have landed even though its answer did not: keep the WIP ids,
      // the next attempt's reconcile() finds out which way it went.
      const e = toBridgeError(error, 'SDRIVE_ERROR')
      for (const u of uploaded) {
        const fresh = (await ctx.store.getItem(u.item.id)) as ItemRecord
        await failAttempt(ctx, fresh, isTransient(e) ? e : toBridgeError(e))
      }
    }
  }

  if (failed.length === 0) return
  const wipIds = failed.map((f) => ticketByItem.get(f.item.id)?.wipFileId).filter((id): id is string => !!id)
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
  for (const { item, error } of failed) {
    const fresh = (await ctx.store.getItem(item.id)) as ItemRecord
    const patched = cancelled ? await ctx.store.updateItem(fresh.id, { wipFileId: null }) : fresh
    await failAttempt(ctx, patched, error)
  }
}
