/**
 * The match side of batch folders with an index: each file to match gets
 * its row's columns (read again from the index, once per batch and round,
 * rather than stored per file), and with index.required a file the index
 * does not name fails with NOT_IN_INDEX, like any file no rule recognises.
 */
import type { InboundFlow, IndexConfig } from '../../config/schema.js'
import { isTransient, toBridgeError } from '../../domain/errors.js'
import type { IndexRow } from '../../domain/index-file.js'
import type { ItemError, ItemRecord, RunBatch } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'
import { batchOf, readIndex } from './batch-claim.js'
import type { RunContext } from './context.js'

export interface IndexedItems {
  /** The index columns of each item that has a row. */
  columns: ReadonlyMap<string, Readonly<Record<string, string>>>
  /** Items failed or put off here: not to be matched this round. */
  settled: ReadonlySet<string>
}

const NONE: IndexedItems = { columns: new Map(), settled: new Set() }

/** The index rows of these items' batches; items whose batch index cannot be read now are put off or failed. */
export async function indexColumnsOf(
  ctx: RunContext,
  flow: InboundFlow,
  items: readonly ItemRecord[],
): Promise<IndexedItems> {
  if (!flow.index || items.length === 0) return NONE
  const run = await ctx.store.getRun((items[0] as ItemRecord).runId)
  if (!run || run.batches.length === 0) return NONE
  const byBatch = new Map<RunBatch, ItemRecord[]>()
  for (const item of items) {
    const batch = batchOf(run, item.path)
    if (batch) byBatch.set(batch, [...(byBatch.get(batch) ?? []), item])
  }
  const columns = new Map<string, Readonly<Record<string, string>>>()
  const settled = new Set<string>()
  for (const [batch, group] of byBatch) {
    const rows = await rowsOf(ctx, flow, batch)
    if (!('rows' in rows)) {
      await Promise.all(group.map((item) => putOff(ctx, flow, item, rows.error, rows.transient)))
      for (const item of group) settled.add(item.id)
      continue
    }
    for (const item of group) {
      const row = rows.rows.get(item.name)
      if (row) columns.set(item.id, row.columns)
      else if (flow.index.required) {
        settled.add(item.id)
        await notInIndex(ctx, flow, item, batch)
      }
    }
  }
  return { columns, settled }
}

type Rows = { rows: ReadonlyMap<string, IndexRow> } | { error: ItemError; transient: boolean }

async function rowsOf(ctx: RunContext, flow: InboundFlow, batch: RunBatch): Promise<Rows> {
  // Once the batch settled (an operator's retry), the index is where it was disposed of.
  const path = batch.indexFinalPath ?? batch.indexPath
  try {
    const remote = ctx.remotes.get(flow.source.endpoint)
    const parsed = await readIndex(remote, path, flow.index as IndexConfig, ctx.control.shutdown)
    if (!parsed.ok) return { error: { code: 'INDEX_INVALID', message: parsed.message }, transient: false }
    return { rows: new Map(parsed.rows.map((r) => [r.file, r])) }
  } catch (error) {
    const e = toBridgeError(error, 'REMOTE_IO')
    const message = `the index ${path} of its batch cannot be read: ${e.message}`
    return isTransient(e)
      ? { error: { code: e.code, message }, transient: true }
      : { error: { code: 'INDEX_INVALID', message }, transient: false }
  }
}

async function putOff(
  ctx: RunContext,
  flow: InboundFlow,
  item: ItemRecord,
  error: ItemError,
  transient: boolean,
) {
  ctx.events.emit({ type: 'fault', flow: flow.name, code: error.code, runId: item.runId, itemId: item.id })
  if (transient) {
    await ctx.store.updateItem(item.id, {
      error,
      nextAttemptAt: new Date(ctx.clock.now() + flow.retry.baseDelayMs).toISOString(),
    })
    return
  }
  await moveItem(ctx.store, item, 'failed', { error })
}

async function notInIndex(ctx: RunContext, flow: InboundFlow, item: ItemRecord, batch: RunBatch) {
  ctx.events.emit({
    type: 'fault',
    flow: flow.name,
    code: 'NOT_IN_INDEX',
    runId: item.runId,
    itemId: item.id,
  })
  await moveItem(ctx.store, item, 'failed', {
    error: {
      code: 'NOT_IN_INDEX',
      message: `${item.name} has no row in its batch's index ${batch.indexPath}`,
    },
  })
}
