/**
 * Delivering a round: every due file streamed S3 → recipient through the
 * transfer queue, atomically where the endpoint can rename. A fault costs
 * the file an attempt (retried with the flow's backoff) unless it only
 * pauses work.
 */
import { posix } from 'node:path'
import type { OutboundFlow } from '../../config/schema.js'
import { retryDelayAfterFault } from '../../domain/attempts.js'
import { type BridgeError, isTransient, toBridgeError } from '../../domain/errors.js'
import type { ItemRecord } from '../../ports/store.js'
import { itemFinished } from '../../runs/item-audit.js'
import { moveItem } from '../../runs/items.js'
import { pauseWithoutAttempt } from '../../runs/retry.js'
import { encryptionStage } from '../../transfer/pgp/encrypt-stage.js'
import { outboundPgpKeys } from '../../transfer/pgp/key-cache.js'
import { deliverFile } from '../../transfer/remote-delivery.js'
import { emptyTally, withTally } from '../../transfer/resume-support.js'
import type { OutboundDeps } from './deps.js'
import { downloadLinks, openFileDownload, startDueItems } from './fetch.js'

/**
 * The attempt failed: the item waits without using it up (a full transfer
 * queue or an org at its daily API limit is not the file's fault), is
 * retried after its backoff, or fails. The Salesforce adapter holds every
 * call at one org-wide gate while the org is at its limit, so an API-limit
 * fault only reaches a job from a call already in flight when the limit
 * hit; its next call waits at that gate, so the job needs no long timer of
 * its own (hundreds of such timers were what hammered the org).
 */
export async function failAttempt(
  deps: OutboundDeps,
  flow: OutboundFlow,
  item: ItemRecord,
  error: BridgeError,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return
  const { store, clock, events } = deps
  const at = { flow: flow.name, runId: item.runId, itemId: item.id }
  events.emit({ type: 'fault', ...at, code: error.code })
  const problem = { code: error.code, message: error.message }
  const pause = pauseWithoutAttempt(flow.retry.baseDelayMs)(error)
  if (pause !== null) {
    await moveItem(store, item, 'pending', {
      attempts: Math.max(0, item.attempts - 1),
      error: problem,
      nextAttemptAt: new Date(clock.now() + pause).toISOString(),
    })
    return
  }
  const delay = retryDelayAfterFault(item.attempts, isTransient(error), flow.retry)
  if (delay !== null) {
    await moveItem(store, item, 'pending', {
      error: problem,
      nextAttemptAt: new Date(clock.now() + delay).toISOString(),
    })
    events.emit({ type: 'item-finished', ...at, outcome: 'retrying', bytes: 0 })
    return
  }
  const failed = await moveItem(store, item, 'failed', { error: problem, nextAttemptAt: null })
  events.emit(itemFinished('outbound', failed, 'failed', 0))
}

/** One file streamed to the recipient: finalizing when delivered, skipped when already there. */
async function deliverItem(
  deps: OutboundDeps,
  flow: OutboundFlow,
  item: ItemRecord,
  url: string,
  directories: Map<string, Promise<void>>,
  signal: AbortSignal,
): Promise<void> {
  const { destination } = flow
  const remote = deps.remotes.get(destination.endpoint)
  const endpoint = deps.endpoints.get(destination.endpoint)
  const begun = process.hrtime.bigint()
  const tally = emptyTally()
  try {
    const encryption = flow.pgp ? encryptionStage(await outboundPgpKeys(flow.pgp)) : undefined
    const result = await deps.queue.run(destination.endpoint, async () =>
      deliverFile(remote, {
        directory: posix.dirname(item.path),
        fileName: item.name,
        source: await openFileDownload(deps.sdrive, url, signal),
        size: item.size,
        atomic: destination.atomic,
        tempSuffix: destination.tempSuffix,
        existing: destination.existing,
        supportsRename: endpoint?.supportsRename ?? true,
        signal,
        tag: item.runId,
        directories,
        encryption,
        reopen: (offset) => openFileDownload(deps.sdrive, url, signal, offset),
        tally,
      }),
    )
    const seconds = Number(process.hrtime.bigint() - begun) / 1e9
    deps.events.emit({ type: 'transfer-timed', flow: flow.name, seconds })
    const patch = {
      sha256: result.sha256,
      bytesTransferred: result.bytes,
      ...withTally(item, tally),
      finalPath: result.path,
      error: null,
      // The SHA-256 of what S-Drive holds, beside that of what was delivered (they differ once encrypted).
      ...(item.target && result.plaintextSha256 !== ''
        ? { target: { ...item.target, plaintextSha256: result.plaintextSha256 } }
        : {}),
    }
    if (result.outcome === 'skipped') {
      const skipped = await moveItem(deps.store, item, 'skipped', patch)
      deps.events.emit(itemFinished('outbound', skipped, 'skipped', 0))
    } else {
      await moveItem(deps.store, item, 'finalizing', patch)
    }
  } catch (error) {
    let fresh = (await deps.store.getItem(item.id)) as ItemRecord
    // A failed attempt's bytes crossed the wire too; the item keeps the count across attempts.
    if (tally.bytesMoved > 0 || tally.resumes > 0) {
      fresh = await deps.store.updateItem(fresh.id, withTally(fresh, tally))
    }
    await failAttempt(deps, flow, fresh, toBridgeError(error, 'REMOTE_IO'), signal)
  }
}

/** Delivers due items: download links fetched in one batch, each file streamed S3 → remote. */
export async function deliverDue(
  deps: OutboundDeps,
  flow: OutboundFlow,
  items: ItemRecord[],
  signal: AbortSignal,
): Promise<void> {
  const started = await startDueItems(deps.store, items, deps.clock.now())
  if (started.length === 0) return
  let urls: string[]
  try {
    urls = await downloadLinks(deps.sdrive, started, signal)
  } catch (error) {
    for (const item of started) await failAttempt(deps, flow, item, toBridgeError(error), signal)
    return
  }
  const directories = new Map<string, Promise<void>>()
  await Promise.all(
    started.map((item, i) => deliverItem(deps, flow, item, urls[i] as string, directories, signal)),
  )
}
