/**
 * What happens to the partner's file once its fate is known: moved to the
 * processed folder (collision-safe), deleted or kept after success; moved
 * to the error folder with a `<name>.error.json` beside it after a
 * permanent failure. Called only after S-Drive confirmed (or refused) it.
 */
import { posix } from 'node:path'
import { Readable } from 'node:stream'
import type { SourceFlow } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import { collisionSafeName } from '../../domain/file-names.js'
import { markerName } from '../../domain/readiness.js'
import type { RemoteFiles, RemoteOpOptions } from '../../ports/remote-files.js'
import type { ItemRecord } from '../../ports/store.js'

/** Where the file is now: the error folder after a failure that is being retried, else where it was found. */
export function currentLocation(item: ItemRecord): string {
  return item.finalPath ?? item.path
}

function destinationDir(baseDir: string, item: ItemRecord, sourceRoot: string): string {
  const rel = posix.relative(sourceRoot, posix.dirname(item.path))
  return rel === '' || rel.startsWith('..') ? baseDir : posix.join(baseDir, rel)
}

async function freeName(remote: RemoteFiles, dir: string, name: string, tag: string, signal?: AbortSignal) {
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
