/**
 * Fetching a round's files from S-Drive: the items due start an attempt,
 * their download links come in one batch, and each file's S3 download is
 * opened only when its delivery gets a transfer slot.
 */
import type { Readable } from 'node:stream'
import { toBridgeError } from '../../domain/errors.js'
import type { SDrive } from '../../ports/sdrive.js'
import type { ItemRecord, Store } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'
import { isDue } from '../../runs/rounds.js'

/** Moves the items due (pending, or interrupted, whose retry time has come) to transferring: an attempt begins. */
export async function startDueItems(store: Store, items: ItemRecord[], now: number): Promise<ItemRecord[]> {
  const due = items.filter((i) => isDue(i, now))
  return Promise.all(
    due.map((i) => moveItem(store, i, 'transferring', { attempts: i.attempts + 1, nextAttemptAt: null })),
  )
}

/** One download link per item, in order; a failure is an S-Drive fault of every item. */
export async function downloadLinks(
  sdrive: SDrive,
  items: ItemRecord[],
  signal: AbortSignal,
): Promise<string[]> {
  try {
    return await sdrive.downloadUrls(
      items.map((i) => ({ id: i.target?.fileId as string, parentId: i.target?.recordId as string })),
      { signal },
    )
  } catch (error) {
    throw toBridgeError(error, 'SDRIVE_ERROR')
  }
}

export async function openFileDownload(
  sdrive: SDrive,
  url: string,
  signal: AbortSignal,
  offset = 0,
): Promise<Readable> {
  const download = await sdrive.openDownload(url, offset > 0 ? { signal, offset } : { signal })
  return download.stream
}
