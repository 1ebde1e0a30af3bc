/**
 * The dispose stage: what happens to the partner's file once its fate is
 * known: moved to the processed folder (collision-safe), deleted or kept
 * after success; moved to the error folder with a `<name>.error.json`
 * beside it after a permanent failure. Called only after S-Drive confirmed
 * (or refused) it. A transferred file's finalization (replaced and
 * superseded versions, a resubmission's review) comes first.
 */
import { posix } from 'node:path'
import { Readable } from 'node:stream'
import type { SourceFlow } from '../../config/schema.js'
import { BridgeError, isTransient, toBridgeError } from '../../domain/errors.js'
import { collisionSafeName } from '../../domain/file-names.js'
import { markerName } from '../../domain/readiness.js'
import type { RemoteFiles, RemoteOpOptions } from '../../ports/remote-files.js'
import type { ItemError, ItemRecord, ItemTarget } from '../../ports/store.js'
import { itemFinished } from '../../runs/item-audit.js'
import { moveItem } from '../../runs/items.js'
import { recordResubmission } from '../review/resubmit.js'
import type { RunContext, SourceFolderFlow } from './context.js'

/** Where the file is now: the error folder after a failure that is being retried, else where it was found. */
export function currentLocation(item: ItemRecord): string {
  return item.finalPath ?? item.path
}

/** The folder under `baseDir` (processed or error) that mirrors where the file was found. */
export function destinationDir(baseDir: string, item: ItemRecord, sourceRoot: string): string {
  const rel = posix.relative(sourceRoot, posix.dirname(item.path))
  return rel === '' || rel.startsWith('..') ? baseDir : posix.join(baseDir, rel)
}

export async function freeName(
  remote: RemoteFiles,
  dir: string,
  name: string,
  tag: string,
  signal?: AbortSignal,
) {
  const opts = signal ? { signal } : {}
  await remote.mkdirp(dir, opts)
  // The usual case is a free name: one stat, not a listing of a folder that grows with every file.
  if ((await remote.stat(posix.join(dir, name), { ...opts, modifiedAt: false })) === null)
    return posix.join(dir, name)
  const taken = new Set((await remote.list(dir, opts)).map((e) => e.name))
  return posix.join(dir, collisionSafeName(name, taken, tag))
}

async function removeMarker(remote: RemoteFiles, flow: SourceFlow, item: ItemRecord, signal?: AbortSignal) {
  const marker = markerName(
    item.name,
    flow.readiness ?? { mode: 'stable', stableSeconds: 0, minAgeSeconds: 0 },
  )
  if (marker === null) return
  const path = posix.join(posix.dirname(item.path), marker)
  if (await remote.stat(path, signal ? { signal } : {})) await remote.delete(path, signal ? { signal } : {})
}

export interface DisposalResult {
  /** The path the source file now has, or null if deleted / kept in place. */
  finalPath: string | null
}

/**
 * Applies `after.success`. Idempotent across crashes: a source that is
 * already gone is taken as moved/deleted by an earlier attempt.
 */
export async function disposeSucceeded(
  remote: RemoteFiles,
  flow: SourceFlow,
  item: ItemRecord,
  signal?: AbortSignal,
): Promise<DisposalResult> {
  const opts = signal ? { signal } : {}
  const source = currentLocation(item)
  const errorJson = `${source}.error.json`
  if (item.finalPath !== null && (await remote.stat(errorJson, opts))) await remote.delete(errorJson, opts)

  let finalPath: string | null = null
  switch (flow.after.success) {
    case 'keep':
      break
    case 'delete':
      await deleteIfPresent(remote, source, opts)
      break
    case 'move': {
      if ((await remote.stat(source, opts)) === null) break
      const dir = destinationDir(flow.after.processedDirectory as string, item, flow.source.directory)
      finalPath = await freeName(remote, dir, item.name, item.runId, signal)
      await remote.rename(source, finalPath, opts)
      break
    }
  }
  await removeMarker(remote, flow, item, signal)
  return { finalPath }
}

/**
 * Deletes without a stat first (one round trip per file, not two). "Not
 * found" is success only when the file really is gone: FTP answers 550 for a
 * refused delete too.
 */
async function deleteIfPresent(remote: RemoteFiles, path: string, opts: RemoteOpOptions) {
  try {
    await remote.delete(path, opts)
  } catch (error) {
    if (!(error instanceof BridgeError && error.code === 'REMOTE_NOT_FOUND')) throw error
    if ((await remote.stat(path, opts)) !== null) throw error
  }
}

/**
 * Whether a failed item's reason still has to be written to the error
 * folder: it was never handled, or it failed again after a retry (the
 * retry removed the earlier reason; the file already sits in the error
 * folder, so only its `<name>.error.json` is missing).
 */
export function failureUnreported(flow: SourceFlow, item: ItemRecord): boolean {
  if (item.state !== 'failed') return false
  if (item.finalPath === null) return true
  if (item.error?.reportedAt !== undefined) return false
  const errorDir = destinationDir(flow.after.errorDirectory, item, flow.source.directory)
  return posix.dirname(item.finalPath) === errorDir
}

export interface ErrorReport {
  code: string
  message: string
  runId: string
  itemId: string
  flow: string
  file: string
  attempts: number
  time: string
}

/** Moves the file to the error folder and writes the reason beside it. */
export async function disposeFailed(
  remote: RemoteFiles,
  flow: SourceFlow,
  item: ItemRecord,
  report: ErrorReport,
  signal?: AbortSignal,
): Promise<DisposalResult> {
  const opts = signal ? { signal } : {}
  const source = currentLocation(item)
  let finalPath = source
  const errorDir = destinationDir(flow.after.errorDirectory, item, flow.source.directory)
  const alreadyThere = posix.dirname(source) === errorDir
  if (!alreadyThere) {
    // Nothing to move (gone since): record where it was, so the failure is not re-handled forever.
    if ((await remote.stat(source, opts)) === null) return { finalPath: source }
    finalPath = await freeName(remote, errorDir, item.name, item.runId, signal)
    await remote.rename(source, finalPath, opts)
  }
  const body = Buffer.from(`${JSON.stringify(report, null, 2)}\n`, 'utf8')
  await remote.write(`${finalPath}.error.json`, Readable.from([body]), opts)
  await removeMarker(remote, flow, item, signal)
  return { finalPath }
}

/** Moves a permanently failed file to the error folder (once) and reports it. */
export async function handleFailed(ctx: RunContext, flow: SourceFolderFlow, item: ItemRecord): Promise<void> {
  const remote = ctx.remotes.get(item.endpoint)
  const error = item.error ?? { code: 'INTERNAL', message: 'failed' }
  const time = new Date(ctx.clock.now()).toISOString()
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
    ctx.control.shutdown,
  )
  const reported = await ctx.store.updateItem(item.id, {
    finalPath,
    error: { code: error.code, message: error.message, reportedAt: time },
  })
  ctx.events.emit(itemFinished(flow.kind, reported, 'failed', 0))
}

/** Reports every failed file of these whose failure is not reported yet; a file that resists is tried next round. */
export async function reportFailures(
  ctx: RunContext,
  flow: SourceFolderFlow,
  items: ItemRecord[],
): Promise<void> {
  for (const item of items.filter((i) => failureUnreported(flow, i))) {
    await handleFailed(ctx, flow, item).catch((error) =>
      ctx.logger.warn(
        { item: item.id, err: toBridgeError(error).message },
        'could not move file to the error folder',
      ),
    )
  }
}

/** Why a re-dropped file made no new version: it is byte for byte the current one. */
function unchangedNote(item: ItemRecord): ItemError {
  return {
    code: 'UNCHANGED',
    message: `identical to the current version ${item.sdriveFileId} (SHA-256 ${item.sha256}): no new version made`,
  }
}

/** A transferred file's tidy-up: older versions removed or superseded, a resubmission recorded, the source disposed of. */
export async function finalize(ctx: RunContext, flow: SourceFolderFlow, item: ItemRecord): Promise<void> {
  const signal = ctx.control.shutdown
  const replaceIds = item.target?.replaceIds ?? []
  if (replaceIds.length > 0 && item.target) {
    await ctx.sdrive.removeFiles(item.target.fileObject, replaceIds, { signal })
    item = await ctx.store.updateItem(item.id, { target: { ...item.target, replaceIds: [] } })
  }
  const supersedeIds = item.target?.supersedeIds ?? []
  if (supersedeIds.length > 0 && item.target) {
    await ctx.sdrive.markSuperseded(item.target.fileObject, supersedeIds, { signal })
    item = await ctx.store.updateItem(item.id, { target: { ...item.target, supersedeIds: [] } })
  }
  if (flow.kind === 'inbound' && item.target?.correlationId && !item.target.reviewApplied) {
    const deps = { store: ctx.store, sf: ctx.sf, events: ctx.events, now: ctx.clock.now() }
    await recordResubmission(deps, flow, item, signal)
    item = await ctx.store.updateItem(item.id, {
      target: { ...(item.target as ItemTarget), reviewApplied: true },
    })
  }
  const { finalPath } = await disposeSucceeded(ctx.remotes.get(item.endpoint), flow, item, signal)
  const skipped = item.target?.alreadyInSDrive === true
  const finished = await moveItem(ctx.store, item, skipped ? 'skipped' : 'done', {
    finalPath,
    error: item.target?.unchanged ? unchangedNote(item) : null,
  })
  ctx.events.emit(
    itemFinished(flow.kind, finished, skipped ? 'skipped' : 'done', skipped ? 0 : item.bytesTransferred),
  )
}

/**
 * Runs one file's finalization (`finalizeItem`); a transient fault tries it again after the base
 * delay, another fails the item with what is left to do by hand.
 */
export async function finalizeOne(
  ctx: RunContext,
  flow: SourceFolderFlow,
  item: ItemRecord,
  finalizeItem: (item: ItemRecord) => Promise<void>,
): Promise<void> {
  try {
    await finalizeItem(item)
  } catch (error) {
    // Stopping, or the run went to another replica: the item stays finalizing for whoever drives it next.
    if (ctx.control.signal.aborted) return
    const e = toBridgeError(error)
    if (isTransient(e)) {
      ctx.logger.warn(
        { item: item.id, code: e.code, err: e.message },
        'could not dispose of the source file; will retry',
      )
      await ctx.store.updateItem(item.id, {
        error: { code: e.code, message: e.message },
        nextAttemptAt: new Date(ctx.clock.now() + flow.retry.baseDelayMs).toISOString(),
      })
      return
    }
    // The document is safely in S-Drive; only the tidy-up failed. The ledger keeps the
    // file from being taken again, and the item says exactly what is left to do by hand.
    ctx.events.emit({ type: 'fault', flow: flow.name, code: e.code, runId: item.runId, itemId: item.id })
    await moveItem(ctx.store, item, 'failed', {
      finalPath: currentLocation(item),
      error: {
        code: e.code,
        message: `uploaded to S-Drive as ${item.sdriveFileId}, but the source could not be disposed of: ${e.message}`,
      },
    })
  }
}
