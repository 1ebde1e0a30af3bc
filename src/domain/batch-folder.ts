/**
 * Atomic batches (`batch: {atomic: true}`): the files of one folder within
 * one run go together. Which folder a file belongs to, and what a folder's
 * items say about the batch: still open, complete (every file uploaded and
 * ready to be tidied up), committed (its tidy-up began: past undoing) or
 * aborted by a permanent failure, and then what each file needs. Pure: the
 * decisions come from the stored items alone, so a restart decides the same.
 */
import { posix } from 'node:path'
import type { ItemRecord } from '../ports/store.js'

/** A file that was not uploaded because another file of its folder failed. */
export const BATCH_ABORTED = 'BATCH_ABORTED'
/** A file that was uploaded and removed again because another file of its folder failed. */
export const BATCH_ROLLED_BACK = 'BATCH_ROLLED_BACK'
/** A file that was uploaded, but S-Drive refused to remove it again: it is left for a person. */
export const BATCH_ROLLBACK_FAILED = 'BATCH_ROLLBACK_FAILED'

const BATCH_CODES: ReadonlySet<string> = new Set([BATCH_ABORTED, BATCH_ROLLED_BACK, BATCH_ROLLBACK_FAILED])

/** The batch a file belongs to: its folder (posix dirname of its path on the server). */
export function batchFolderOf(path: string): string {
  return posix.dirname(path)
}

/** Items by batch folder, folders and items in path order. */
export function groupByFolder(items: readonly ItemRecord[]): Map<string, ItemRecord[]> {
  const sorted = [...items].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const groups = new Map<string, ItemRecord[]>()
  for (const item of sorted) {
    const folder = batchFolderOf(item.path)
    groups.set(folder, [...(groups.get(folder) ?? []), item])
  }
  return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** The file's upload landed in this run and would have to be removed again to undo it. */
export function uploadedHere(item: ItemRecord): boolean {
  return item.sdriveFileId !== null && item.target?.alreadyInSDrive !== true && !item.target?.rollbackFailed
}

/** A file that failed for a reason of its own (not because of the batch): what aborts its folder. */
export function failedOnItsOwn(item: ItemRecord): boolean {
  return item.state === 'failed' && !BATCH_CODES.has(item.error?.code ?? '')
}

/** Uploaded and done with everything that comes before the tidy-up (folder, fields). */
export type ReadyCheck = (item: ItemRecord) => boolean

export type FolderVerdict =
  /** Files are still on their way (pending, transferring, or waiting for their folder or fields). */
  | { kind: 'open' }
  /** Every file is uploaded and ready: the batch can be committed. */
  | { kind: 'complete' }
  /** The tidy-up began (marked committed): the files go on one by one, as outside a batch. */
  | { kind: 'committed' }
  /** A file failed on its own: the batch is undone. `culprits` in path order. */
  | { kind: 'aborted'; culprits: ItemRecord[] }

export function folderVerdict(items: readonly ItemRecord[], ready: ReadyCheck): FolderVerdict {
  if (items.some((i) => i.target?.batchCommitted === true || i.state === 'done' || i.state === 'skipped'))
    return { kind: 'committed' }
  const culprits = items.filter(failedOnItsOwn)
  if (culprits.length > 0) return { kind: 'aborted', culprits }
  return items.every((i) => i.state === 'failed' || (i.state === 'finalizing' && ready(i)))
    ? { kind: 'complete' }
    : { kind: 'open' }
}

/** What undoing an aborted batch asks of each of its files. */
export interface AbortPlan {
  /** Uploaded in this run: removed from S-Drive again (or marked, per replaceMode). */
  rollBack: ItemRecord[]
  /** Not uploaded (pending), or nothing of theirs was uploaded (skip, unchanged): failed as BATCH_ABORTED. */
  abort: ItemRecord[]
  /**
   * In flight: a transfer cut by a crash, or an earlier try that may have left a WIP record or even
   * a completed upload (its answer lost). The upload stage reconciles them first; decided next time.
   */
  inFlight: ItemRecord[]
}

function inFlight(item: ItemRecord): boolean {
  if (item.state === 'transferring') return true
  return item.state === 'pending' && (item.wipFileId !== null || item.target?.uploadRequested === true)
}

export function abortPlanOf(items: readonly ItemRecord[]): AbortPlan {
  const plan: AbortPlan = { rollBack: [], abort: [], inFlight: [] }
  for (const item of items) {
    if (inFlight(item)) plan.inFlight.push(item)
    else if (uploadedHere(item) && (item.state === 'finalizing' || item.state === 'failed'))
      plan.rollBack.push(item)
    else if (item.state === 'pending' || item.state === 'finalizing') plan.abort.push(item)
  }
  return plan
}

/** "a.pdf (CHECKSUM_MISMATCH)": the files that made a batch fail, for messages. */
export function culpritsText(culprits: readonly ItemRecord[]): string {
  return culprits.map((c) => `${posix.basename(c.path)} (${c.error?.code ?? 'FAILED'})`).join(', ')
}
