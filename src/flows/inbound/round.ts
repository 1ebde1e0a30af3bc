/**
 * One round of a source-folder run over its items, as the stages in order:
 * match (or apply, for status files) → report failures → resolve folders →
 * upload in batches, each batch's files finalized and disposed of as soon
 * as it is done → put files into folders → set their file fields →
 * finalize the rest → report
 * failures → the run's final state, or when to look again. With atomic
 * batches a gate (batch-gate.ts) settles each batch folder before failures
 * are reported and before the tidy-up: nothing of a folder is tidied up
 * until all of it is uploaded, and a failed folder is undone first.
 */
import PQueue from 'p-queue'
import { batchByKey } from '../../domain/batching.js'
import { toBridgeError } from '../../domain/errors.js'
import { finalRunState } from '../../domain/item-state.js'
import type { ItemRecord, ItemTarget, RunRecord } from '../../ports/store.js'
import { isDue, nextWake } from '../../runs/rounds.js'
import { statusDetailOf } from '../status/detail.js'
import { appliedInPart, applyStatusFiles, finalizeStatusFile } from '../status/run.js'
import { type BatchGate, createBatchGate } from './batch-gate.js'
import { settleBatches } from './batch-settle.js'
import { createCompletions } from './completions.js'
import type { RunContext, SourceFolderFlow } from './context.js'
import { finalize, finalizeOne, reportFailures } from './dispose.js'
import { applyFileFields, waitsForFields } from './fields.js'
import { applyFolders, resolveFolders, waitsForFolder } from './folder.js'
import { matchPending } from './match.js'
import { type BatchContext, sdriveTargetOf, transferBatch } from './upload.js'

/** One round over the run's items; returns the time to wake up for due retries, or null when finished. */
export async function round(ctx: RunContext, flow: SourceFolderFlow, run: RunRecord): Promise<number | null> {
  const { store, control } = ctx
  const items = await store.listItems(run.id)
  if (flow.kind === 'status') await applyStatusFiles(ctx, flow, items)
  else await matchPending(ctx, flow, items)
  const gate = createBatchGate(ctx, flow)
  const matched = await store.listItems(run.id)
  control.progress.announce(flow.name, run.id, true)
  await reportFailures(ctx, flow, gate.reportable(await gate.settle(matched)))
  await resolveFolders(ctx, flow, matched)
  const tidyUp = createTidyUp(ctx, flow, gate)
  await uploadDue(ctx, flow, await store.listItems(run.id), tidyUp)
  await applyFolders(ctx, gate.notAborted(await store.listItems(run.id)))
  await applyFileFields(ctx, flow, gate.notAborted(await store.listItems(run.id)))
  control.shutdown.throwIfAborted()
  tidyUp.tidy(await gate.settle(await store.listItems(run.id)))
  await tidyUp.idle()
  control.shutdown.throwIfAborted()
  await reportFailures(ctx, flow, gate.reportable(await store.listItems(run.id)))
  control.shutdown.throwIfAborted()
  const batchesOpen = flow.kind === 'inbound' && flow.index ? await settleBatches(ctx, flow, run.id) : false
  control.progress.announce(flow.name, run.id, true)
  return settleRound(ctx, flow, run, batchesOpen)
}

/** Finalizing files waiting for their tidy-up, each queued once per round. */
interface TidyUp {
  /** Queues the finalizing files among these not queued yet (not those waiting for their folder, fields or batch). */
  tidy(items: ItemRecord[]): void
  idle(): Promise<void>
}

/**
 * Each file's tidy-up is a few round trips: they run side by side within the endpoint's cap,
 * and a batch's files are tidied up as soon as that batch is done, while later batches upload.
 */
function createTidyUp(ctx: RunContext, flow: SourceFolderFlow, gate: BatchGate): TidyUp {
  const width = Math.max(1, ctx.endpoints.get(flow.source.endpoint)?.maxConnections ?? 1)
  const queue = new PQueue({ concurrency: width })
  const tidied = new Set<string>()
  const finalizeItem = (item: ItemRecord) => finalizeFile(ctx, flow, item)
  return {
    tidy(items) {
      for (const item of items) {
        if (
          item.state !== 'finalizing' ||
          waitsForFolder(item) ||
          waitsForFields(item) ||
          gate.holds(item) ||
          tidied.has(item.id)
        )
          continue
        tidied.add(item.id)
        queue
          .add(async () => {
            if (!ctx.control.signal.aborted) await finalizeOne(ctx, flow, item, finalizeItem)
          })
          .catch((error) =>
            ctx.logger.error(
              { item: item.id, err: toBridgeError(error).message },
              'tidy-up failed unexpectedly',
            ),
          )
      }
    },
    idle: () => queue.onIdle(),
  }
}

/** A status file's finalization is its own; every other file is a transferred one. */
function finalizeFile(ctx: RunContext, flow: SourceFolderFlow, item: ItemRecord): Promise<void> {
  const status = flow.kind === 'status' ? statusDetailOf(item) : null
  if (flow.kind === 'status' && status) return finalizeStatusFile(ctx, flow, item, status)
  return finalize(ctx, flow, item)
}

/** Uploads the due files with a target, batched by S-Drive parent; each batch's files are tidied up when it ends. */
async function uploadDue(ctx: RunContext, flow: SourceFolderFlow, items: ItemRecord[], tidyUp: TidyUp) {
  const now = ctx.clock.now()
  const due = items.filter((i) => i.target !== null && isDue(i, now))
  const batchContext = batchContextOf(ctx, flow)
  // Draining: files not started yet stay pending for the next start.
  ctx.control.draining.throwIfAborted()
  const batches = batchByKey(
    due,
    (i) => JSON.stringify([i.endpoint, sdriveTargetOf(i.target as ItemTarget)]),
    (i) => i.size,
    ctx.batchLimits,
  )
  await Promise.all(batches.map((batch) => uploadBatch(ctx, flow, batchContext, batch, tidyUp)))
}

function batchContextOf(ctx: RunContext, flow: SourceFolderFlow): BatchContext {
  const { control } = ctx
  return {
    flow,
    remote: ctx.remotes.get(flow.source.endpoint),
    store: ctx.store,
    sdrive: ctx.sdrive,
    queue: ctx.queue,
    clock: ctx.clock,
    logger: ctx.logger,
    events: ctx.events,
    signal: control.signal,
    draining: control.draining,
    completions: createCompletions({
      completeUpload: (wipFileIds, versionIds, options) =>
        ctx.sdrive.completeUpload(wipFileIds, versionIds, options),
      signal: control.signal,
      lingerMs: ctx.completionWaitMs,
    }),
    onProgress: (item, bytes) => control.progress.streamed(flow.name, item.runId, item.id, bytes),
  }
}

async function uploadBatch(
  ctx: RunContext,
  flow: SourceFolderFlow,
  batchContext: BatchContext,
  batch: ItemRecord[],
  tidyUp: TidyUp,
): Promise<void> {
  const { control, logger } = ctx
  await transferBatch(batchContext, batch)
    .catch((error) =>
      logger.error({ flow: flow.name, err: toBridgeError(error).message }, 'batch failed unexpectedly'),
    )
    .finally(() => {
      for (const item of batch) control.progress.settledItem(item.runId, item.id)
      control.progress.announce(flow.name, (batch[0] as ItemRecord).runId, true)
    })
    .then(async () => {
      if (control.signal.aborted) return
      const fresh = await Promise.all(batch.map((i) => ctx.store.getItem(i.id)))
      tidyUp.tidy(fresh.filter((i): i is ItemRecord => i !== null))
    })
    // Not lost: whatever was not tidied up here is picked up after the last batch.
    .catch((error) => logger.warn({ flow: flow.name, err: toBridgeError(error).message }, 'tidy-up deferred'))
}

/** The run's final state once every item ended (stored through the driver), else when to look again. */
async function settleRound(
  ctx: RunContext,
  flow: SourceFolderFlow,
  run: RunRecord,
  batchesOpen: boolean,
): Promise<number | null> {
  let finalState = finalRunState(await ctx.store.runCounts(run.id))
  // Every file ended but a batch's result is not written yet: tried again after the base delay.
  if (finalState !== null && batchesOpen) return ctx.clock.now() + flow.retry.baseDelayMs
  if (
    finalState === 'succeeded' &&
    flow.kind === 'status' &&
    appliedInPart(await ctx.store.listItems(run.id))
  ) {
    finalState = 'partially_failed'
  }
  if (finalState !== null) {
    await ctx.control.finish(run, finalState)
    return null
  }
  const now = ctx.clock.now()
  return nextWake(await ctx.store.listItems(run.id), now, flow.retry.baseDelayMs) ?? now
}
