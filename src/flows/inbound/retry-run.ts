/**
 * An operator's retry of a run: its failed files start afresh (pending, no
 * attempts used; matched again when matching failed; straight to the
 * tidy-up when already in S-Drive) and the run is running again. The
 * caller has the run driven again.
 */
import type { ItemRecord, RunRecord } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'
import type { SourceFolderServices } from './context.js'
import { currentLocation } from './dispose.js'

/** Matching faults the record may have answered by now. */
const REMATCHED = new Set(['NO_MATCHING_RECORD', 'AMBIGUOUS_RECORD', 'NO_MATCH_RULE'])

type Services = Pick<SourceFolderServices, 'store' | 'remotes'>

export async function retryFailedItems(
  services: Services,
  run: RunRecord,
): Promise<{ run: RunRecord; retried: number }> {
  const failed = (await services.store.listItems(run.id)).filter((i) => i.state === 'failed')
  for (const item of failed) await retryItem(services, item)
  const updated =
    failed.length > 0
      ? await services.store.updateRun(run.id, { state: 'running', finishedAt: null, error: null })
      : run
  return { run: updated, retried: failed.length }
}

async function retryItem(services: Services, item: ItemRecord): Promise<void> {
  // A file that failed matching is matched again: the record may exist by now.
  const rematch = REMATCHED.has(item.error?.code ?? '')
  const pending = await moveItem(services.store, item, 'pending', {
    attempts: 0,
    nextAttemptAt: null,
    // The reason beside the file is removed below: a new failure writes it again.
    error: item.error ? { code: item.error.code, message: item.error.message } : null,
    // An operator's retry starts the file afresh: its takeover count too.
    ...(rematch ? { target: null } : item.target ? { target: { ...item.target, interruptions: 0 } } : {}),
  })
  // Already in S-Drive (only the tidy-up failed): never upload it again.
  if (item.sdriveFileId !== null) await moveItem(services.store, pending, 'finalizing')
  if (item.finalPath) {
    const remote = services.remotes.get(item.endpoint)
    await remote.delete(`${currentLocation(item)}.error.json`).catch(() => undefined)
  }
}
