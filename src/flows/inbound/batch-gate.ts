/**
 * The batch gate of an inbound flow with `batch: {atomic: true}`: between a
 * round's stages it looks at each batch folder's files and commits the
 * folders whose files are all uploaded (only then is any of them tidied up:
 * versions superseded, replaced files removed, sources moved) or undoes the
 * folders where a file failed permanently (uploads removed again, files not
 * yet uploaded left out, a report written once nothing is in flight). Every
 * decision is taken from the stored items, so a restart resumes it. Without
 * atomic batches the gate lets everything through, as before.
 */
import type { InboundFlow } from '../../config/schema.js'
import {
  abortPlanOf,
  BATCH_ABORTED,
  batchFolderOf,
  culpritsText,
  folderVerdict,
  groupByFolder,
} from '../../domain/batch-folder.js'
import { toBridgeError } from '../../domain/errors.js'
import type { ItemRecord, ItemTarget } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'
import { isActiveItem } from '../../runs/rounds.js'
import { writeBatchReport } from './batch-report.js'
import { rollBackUploads } from './batch-rollback.js'
import type { RunContext, SourceFolderFlow } from './context.js'
import { failureUnreported } from './dispose.js'
import { waitsForFields } from './fields.js'
import { waitsForFolder } from './folder.js'

export interface BatchGate {
  /** Commits complete batch folders and undoes failed ones (atomic flows); returns the items as they are now. */
  settle(items: readonly ItemRecord[]): Promise<ItemRecord[]>
  /** The tidy-up must leave this file alone for now: its folder is not committed. */
  holds(item: ItemRecord): boolean
  /** These files without those of folders being undone (no folder or fields for files to be removed). */
  notAborted(items: readonly ItemRecord[]): ItemRecord[]
  /** These files without those whose folder still has a file in flight (failures are reported by folder). */
  reportable(items: readonly ItemRecord[]): ItemRecord[]
}

const openGate: BatchGate = {
  settle: async (items) => [...items],
  holds: () => false,
  notAborted: (items) => [...items],
  reportable: (items) => [...items],
}

export function isAtomic(flow: SourceFolderFlow): flow is InboundFlow {
  return flow.kind === 'inbound' && flow.batch?.atomic === true
}

const readyForTidyUp = (item: ItemRecord) => !waitsForFolder(item) && !waitsForFields(item)

export function createBatchGate(ctx: RunContext, flow: SourceFolderFlow): BatchGate {
  if (!isAtomic(flow)) return openGate
  const committed = new Set<string>()
  const aborted = new Set<string>()
  const unreported = new Set<string>()
  return {
    async settle(items) {
      let changed = false
      for (const [folder, group] of groupByFolder(items)) {
        const verdict = folderVerdict(group, readyForTidyUp)
        if (verdict.kind === 'complete') await commit(ctx, group)
        changed ||= verdict.kind === 'complete' || verdict.kind === 'aborted'
        if (verdict.kind === 'complete' || verdict.kind === 'committed') committed.add(folder)
        if (verdict.kind !== 'aborted') continue
        aborted.add(folder)
        if (await undo(ctx, flow, folder, group, verdict.culprits)) unreported.delete(folder)
        else unreported.add(folder)
      }
      const runId = items[0]?.runId
      return changed && runId ? ctx.store.listItems(runId) : [...items]
    },
    holds: (item) => !committed.has(batchFolderOf(item.path)),
    notAborted: (items) => items.filter((i) => !aborted.has(batchFolderOf(i.path))),
    reportable(items) {
      const busy = new Set(items.filter(isActiveItem).map((i) => batchFolderOf(i.path)))
      for (const folder of unreported) busy.add(folder)
      return items.filter((i) => committed.has(batchFolderOf(i.path)) || !busy.has(batchFolderOf(i.path)))
    },
  }
}

/** Marks the folder's files committed (stored before any tidy-up, so a restart never undoes it). */
async function commit(ctx: RunContext, group: readonly ItemRecord[]): Promise<void> {
  // Side by side, so the store commits the folder's marks at once.
  await Promise.all(
    group
      .filter((i) => i.state === 'finalizing')
      .map((i) =>
        ctx.store.updateItem(i.id, { target: { ...(i.target as ItemTarget), batchCommitted: true } }),
      ),
  )
}

/**
 * Undoes a failed batch folder: the files not uploaded fail as BATCH_ABORTED, the uploads are
 * removed again; once nothing of the folder is in flight, its report goes to the error folder
 * (before the files follow it, each with its own reason, through the usual failure reporting).
 * False: the report could not be written, so the folder's files are not reported yet either.
 */
async function undo(
  ctx: RunContext,
  flow: InboundFlow,
  folder: string,
  group: readonly ItemRecord[],
  culprits: readonly ItemRecord[],
): Promise<boolean> {
  const plan = abortPlanOf(group)
  const because = culpritsText(culprits)
  if (plan.abort.length + plan.rollBack.length > 0) {
    ctx.logger.warn(
      { flow: flow.name, folder, because, rollBack: plan.rollBack.length, abort: plan.abort.length },
      'atomic batch failed; undoing it',
    )
  }
  // Side by side, so the store commits the folder's new states at once.
  await Promise.all(
    plan.abort.map((item) =>
      moveItem(ctx.store, item, 'failed', {
        nextAttemptAt: null,
        error: {
          code: BATCH_ABORTED,
          message: `${item.state === 'pending' ? 'not uploaded' : 'left out'}: ${because} failed in the same folder`,
        },
      }),
    ),
  )
  if (plan.rollBack.length > 0) await rollBackUploads(ctx, flow, plan.rollBack, culprits)
  const changed = plan.abort.length + plan.rollBack.length > 0
  const fresh = changed
    ? (await Promise.all(group.map((i) => ctx.store.getItem(i.id)))).filter(
        (i): i is ItemRecord => i !== null,
      )
    : group
  if (fresh.some(isActiveItem) || !fresh.some((i) => failureUnreported(flow, i))) return true
  const freshCulprits = fresh.filter((i) => culprits.some((c) => c.id === i.id))
  return writeBatchReport(ctx, flow, folder, fresh, freshCulprits).then(
    () => true,
    (error: unknown) => {
      if (ctx.control.shutdown.aborted) throw error
      // Its files wait with it: the folder's failures are reported together, next round.
      ctx.logger.warn(
        { flow: flow.name, folder, err: toBridgeError(error).message },
        'could not write the batch report',
      )
      return false
    },
  )
}
