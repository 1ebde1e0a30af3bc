/** Finishing delivered files: in archive mode they leave S-Drive first; then they are done. */
import type { OutboundFlow } from '../../config/schema.js'
import { isTransient, toBridgeError } from '../../domain/errors.js'
import type { ItemRecord } from '../../ports/store.js'
import { itemFinished } from '../../runs/item-audit.js'
import { moveItem } from '../../runs/items.js'
import type { OutboundDeps } from './deps.js'

/** Archive mode and completion: remove from S-Drive only what was delivered and verified. */
export async function finalizeDelivered(
  deps: OutboundDeps,
  flow: OutboundFlow,
  items: ItemRecord[],
  signal: AbortSignal,
): Promise<void> {
  const { store } = deps
  const finalizing = items.filter((i) => i.state === 'finalizing')
  if (finalizing.length === 0) return
  if (flow.archive.removeFromSDrive) {
    try {
      await deps.sdrive.removeFiles(
        flow.source.fileObject,
        finalizing.map((i) => i.target?.fileId as string),
        { signal },
      )
    } catch (error) {
      const e = toBridgeError(error, 'SDRIVE_ERROR')
      deps.logger.warn(
        { flow: flow.name, code: e.code, err: e.message },
        'archive removal failed; will retry',
      )
      if (isTransient(e)) return
      // Side by side: one commit for the whole batch, not one per file.
      await Promise.all(
        finalizing.map((item) =>
          moveItem(store, item, 'failed', {
            error: {
              code: e.code,
              message: `delivered to ${item.finalPath}, but not removed from S-Drive: ${e.message}`,
            },
          }),
        ),
      )
      return
    }
  }
  await Promise.all(
    finalizing.map(async (item) => {
      const done = await moveItem(store, item, 'done')
      deps.events.emit(itemFinished('outbound', done, 'done', item.bytesTransferred))
    }),
  )
}
