/**
 * A status-file run's own steps, within the source-folder run: its due
 * files are applied in name order (an ERP's sequence), one after another,
 * each retried with the flow's backoff; a finished file is disposed of once
 * and the report of its rejected rows written beside it.
 */
import type { StatusFlow } from '../../config/schema.js'
import { backoffDelay } from '../../domain/backoff.js'
import { isTransient, toBridgeError } from '../../domain/errors.js'
import type { ItemRecord } from '../../ports/store.js'
import { itemFinished } from '../../runs/item-audit.js'
import { moveItem } from '../../runs/items.js'
import { isDue } from '../../runs/rounds.js'
import type { RunContext } from '../inbound/context.js'
import { disposeSucceeded } from '../inbound/dispose.js'
import { applyStatusFile } from './apply.js'
import { type StatusContext, type StatusDetail, statusDetailOf } from './detail.js'
import { writeErrorReport } from './report.js'

export function statusContext(ctx: RunContext, flow: StatusFlow): StatusContext {
  return {
    store: ctx.store,
    sf: ctx.sf,
    remote: ctx.remotes.get(flow.source.endpoint),
    events: ctx.events,
    logger: ctx.logger,
    signal: ctx.control.shutdown,
  }
}

/** Applies the due status files of a run, in name order (an ERP's sequence), one after another. */
export async function applyStatusFiles(
  ctx: RunContext,
  flow: StatusFlow,
  items: ItemRecord[],
): Promise<void> {
  const now = ctx.clock.now()
  const due = items
    .filter((i) => i.target === null && isDue(i, now))
    .sort((a, b) => a.path.localeCompare(b.path))
  for (const pending of due) {
    if (ctx.control.draining.aborted) return
    await applyOne(ctx, flow, pending)
  }
}

async function applyOne(ctx: RunContext, flow: StatusFlow, pending: ItemRecord): Promise<void> {
  const attempts = pending.attempts + 1
  let item =
    pending.state === 'pending'
      ? await moveItem(ctx.store, pending, 'transferring', { attempts })
      : await ctx.store.updateItem(pending.id, { attempts })
  try {
    await applyStatusFile(statusContext(ctx, flow), flow, item)
    item = (await ctx.store.getItem(item.id)) as ItemRecord
    await moveItem(ctx.store, item, 'finalizing', { error: null, nextAttemptAt: null })
    ctx.control.progress.announce(flow.name, item.runId)
  } catch (error) {
    if (ctx.control.shutdown.aborted) throw error
    const e = toBridgeError(error)
    ctx.events.emit({ type: 'fault', flow: flow.name, code: e.code, runId: item.runId, itemId: item.id })
    if (isTransient(e) && attempts < flow.retry.maxAttempts) {
      ctx.logger.warn(
        { flow: flow.name, file: item.path, code: e.code, attempts },
        'status file will be retried',
      )
      const delay = backoffDelay(attempts - 1, {
        baseMs: flow.retry.baseDelayMs,
        maxMs: flow.retry.maxDelayMs,
      })
      await ctx.store.updateItem(item.id, {
        error: { code: e.code, message: e.message },
        nextAttemptAt: new Date(ctx.clock.now() + delay).toISOString(),
      })
    } else {
      ctx.logger.error(
        { flow: flow.name, file: item.path, code: e.code, err: e.message },
        'status file failed',
      )
      await moveItem(ctx.store, item, 'failed', { error: { code: e.code, message: e.message } })
    }
  }
}

/** A status file's tidy-up: dispose of it once, then the report of rejected rows beside it. */
export async function finalizeStatusFile(
  ctx: RunContext,
  flow: StatusFlow,
  item: ItemRecord,
  status: StatusDetail,
): Promise<void> {
  let detail = status
  if (!detail.disposed) {
    const { finalPath } = await disposeSucceeded(
      ctx.remotes.get(item.endpoint),
      flow,
      item,
      ctx.control.shutdown,
    )
    detail = { ...detail, disposed: true }
    item = await ctx.store.updateItem(item.id, {
      finalPath,
      detail: detail as unknown as Record<string, unknown>,
    })
  }
  const supportsRename = ctx.endpoints.get(item.endpoint)?.supportsRename ?? true
  const reportPath = await writeErrorReport(statusContext(ctx, flow), flow, item, detail, supportsRename)
  detail = { ...detail, reportPath }
  const error =
    detail.rowsRejected > 0
      ? {
          code: 'ROWS_REJECTED',
          message: `${detail.rowsRejected} of ${detail.rowsTotal} rows rejected, ${detail.rowsApplied} applied; report: ${reportPath}`,
        }
      : null
  const done = await moveItem(ctx.store, item, 'done', {
    detail: detail as unknown as Record<string, unknown>,
    error,
  })
  ctx.events.emit(itemFinished('status', done, 'done', 0))
}

/** A status file with rejected rows was applied in part: its run says so. */
export function appliedInPart(items: readonly ItemRecord[]): boolean {
  return items.some((i) => (statusDetailOf(i)?.rowsRejected ?? 0) > 0)
}
