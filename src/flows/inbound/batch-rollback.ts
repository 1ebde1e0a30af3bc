/**
 * Undoing an atomic batch's uploads: the files a run uploaded are removed
 * from S-Drive again with the remover of the replace policy (per
 * sdrive.replaceMode), then their items say so. Removal comes first and the
 * items are changed after, so a crash in between removes again on the next
 * round (removing a removed file is no error) and nothing stays current.
 */
import type { InboundFlow } from '../../config/schema.js'
import { BATCH_ROLLBACK_FAILED, BATCH_ROLLED_BACK, culpritsText } from '../../domain/batch-folder.js'
import { type BridgeError, isTransient, toBridgeError } from '../../domain/errors.js'
import type { ItemRecord, ItemTarget } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'
import type { RunContext } from './context.js'

/**
 * Removes these uploads (files of aborted batches) from S-Drive, one call per file object. A
 * transient fault leaves them for the next round; a refusal leaves them in S-Drive for a person.
 */
export async function rollBackUploads(
  ctx: RunContext,
  flow: InboundFlow,
  items: readonly ItemRecord[],
  culprits: readonly ItemRecord[],
): Promise<void> {
  const byObject = new Map<string, ItemRecord[]>()
  for (const item of items) {
    const fileObject = (item.target as ItemTarget).fileObject
    byObject.set(fileObject, [...(byObject.get(fileObject) ?? []), item])
  }
  const because = culpritsText(culprits)
  for (const [fileObject, group] of byObject) {
    try {
      await ctx.sdrive.removeFiles(
        fileObject,
        group.map((i) => i.sdriveFileId as string),
        { signal: ctx.control.shutdown },
      )
    } catch (error) {
      if (ctx.control.shutdown.aborted) throw error
      await removalFailed(ctx, flow, group, toBridgeError(error, 'SDRIVE_ERROR'), because)
      continue
    }
    // Side by side, so the store commits the group's new states at once.
    await Promise.all(group.map((item) => markRolledBack(ctx, item, because)))
  }
}

async function markRolledBack(ctx: RunContext, item: ItemRecord, because: string): Promise<ItemRecord> {
  const id = item.sdriveFileId as string
  const target = { ...(item.target as ItemTarget), rolledBackId: id }
  // Not in S-Drive any more: an operator's retry uploads it again.
  const patch = { sdriveFileId: null, wipFileId: null, target, nextAttemptAt: null }
  if (item.state === 'failed') {
    // The file that failed after its upload (its fields refused): its own reason stays, and its
    // source now goes to the error folder with the rest of its batch.
    const own = item.error ?? { code: 'INTERNAL', message: 'failed' }
    return ctx.store.updateItem(item.id, {
      ...patch,
      finalPath: null,
      error: { code: own.code, message: `${own.message}; removed from S-Drive again (${id})` },
    })
  }
  return moveItem(ctx.store, item, 'failed', {
    ...patch,
    error: {
      code: BATCH_ROLLED_BACK,
      message: `uploaded as ${id} and removed again: ${because} failed in the same folder`,
    },
  })
}

async function removalFailed(
  ctx: RunContext,
  flow: InboundFlow,
  group: readonly ItemRecord[],
  e: BridgeError,
  because: string,
): Promise<void> {
  const waiting = group.filter((i) => i.state === 'finalizing')
  // Transient, and a file still waits for it (keeping the run going): tried again after the base delay.
  if (isTransient(e) && waiting.length > 0) {
    ctx.logger.warn({ code: e.code, err: e.message, files: group.length }, 'rollback will be retried')
    const nextAttemptAt = new Date(ctx.clock.now() + flow.retry.baseDelayMs).toISOString()
    await Promise.all(
      waiting.map((i) =>
        ctx.store.updateItem(i.id, { error: { code: e.code, message: e.message }, nextAttemptAt }),
      ),
    )
    return
  }
  ctx.logger.error({ code: e.code, err: e.message, files: group.length }, 'rollback refused by S-Drive')
  await Promise.all(
    group.map((item) => {
      const target = { ...(item.target as ItemTarget), rollbackFailed: true }
      const left = `uploaded as ${item.sdriveFileId}, but removing it again failed (${e.code}: ${e.message}); remove it by hand`
      if (item.state === 'failed') {
        const own = item.error ?? { code: 'INTERNAL', message: 'failed' }
        return ctx.store.updateItem(item.id, {
          target,
          finalPath: null,
          error: { code: own.code, message: `${own.message}; ${left}` },
        })
      }
      return moveItem(ctx.store, item, 'failed', {
        target,
        nextAttemptAt: null,
        error: { code: BATCH_ROLLBACK_FAILED, message: `${because} failed in the same folder; ${left}` },
      })
    }),
  )
}
