/**
 * An operator's cancel of a source-folder run: the files it has not moved
 * yet are let go (skipped, their ledger claim released, so a later run takes
 * them as if this one had not seen them); files already uploaded and being
 * tidied on the server finish as they would.
 */
import type { Store } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'

export const CANCELLED_BY_OPERATOR = { code: 'CANCELLED', message: 'cancelled by request' } as const

export async function letGoOfCancelledFiles(store: Store, runId: string): Promise<void> {
  for (const item of await store.listItems(runId)) {
    if (item.state !== 'pending' && item.state !== 'transferring') continue
    // An interrupted transfer goes back to pending first: the state machine has no transferring → skipped.
    const waiting = item.state === 'transferring' ? await moveItem(store, item, 'pending') : item
    await moveItem(store, waiting, 'skipped', { error: { ...CANCELLED_BY_OPERATOR } })
    await store.releaseLedger(item.id)
  }
}
