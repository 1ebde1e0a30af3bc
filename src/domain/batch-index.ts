/**
 * Batch folders with an index (sidecar) file, as pure decisions: which of a
 * listing's files a run takes (a batch whole, only once its index is ready
 * when the index is required), how the index's rows and the folder's files
 * meet (NOT_IN_INDEX, FILE_MISSING), and the `<index>.result.csv` written
 * beside the index once the batch settled. No I/O here.
 */
import { posix } from 'node:path'
import { csvLine } from './csv-cells.js'
import type { IndexRow } from './index-file.js'

/** The result file written beside an index once its batch settled. */
export function indexResultName(indexName: string): string {
  return `${indexName}.result.csv`
}

export interface BatchCandidate {
  path: string
  name: string
}

export interface PlannedBatch<F extends BatchCandidate> {
  /** The directory the files sit in. */
  folder: string
  /** Its ready index, or null (no index configured, or none there). */
  index: F | null
  files: F[]
}

export interface HeldFile {
  path: string
  reason: 'NOT_READY' | 'WAITING_FOR_INDEX'
  message: string
}

export interface BatchPlanInput<F extends BatchCandidate> {
  /** Documents ready to take, in listing order. */
  ready: readonly F[]
  /** Ready index files. */
  indexes: readonly F[]
  /** Files (documents or indexes) seen but not ready yet. */
  notReady: readonly string[]
  /** index.names, in order of preference; empty: the flow has no index setting. */
  indexNames: readonly string[]
  required: boolean
}

const folderOf = (path: string) => posix.dirname(path)

/**
 * Groups the ready files by folder. A folder with an index (ready or not yet) is taken only when
 * nothing in it is still being written, so the index is never read before its files are all there;
 * with `required`, a folder without a ready index waits.
 */
export function planBatches<F extends BatchCandidate>(
  input: BatchPlanInput<F>,
): { batches: PlannedBatch<F>[]; held: HeldFile[] } {
  const byFolder = new Map<string, F[]>()
  for (const file of input.ready)
    byFolder.set(folderOf(file.path), [...(byFolder.get(folderOf(file.path)) ?? []), file])
  for (const index of input.indexes)
    if (!byFolder.has(folderOf(index.path))) byFolder.set(folderOf(index.path), [])
  const waiting = new Map<string, string[]>()
  for (const path of input.notReady)
    waiting.set(folderOf(path), [...(waiting.get(folderOf(path)) ?? []), path])
  const isIndexName = (path: string) => input.indexNames.includes(posix.basename(path))

  const batches: PlannedBatch<F>[] = []
  const held: HeldFile[] = []
  for (const [folder, files] of byFolder) {
    const index = firstIndex(input.indexes, folder, input.indexNames)
    const notReady = waiting.get(folder) ?? []
    const indexComing = notReady.some(isIndexName)
    if ((index !== null || indexComing) && notReady.length > 0) {
      const message = `waits for the rest of its batch: ${notReady.map((p) => posix.basename(p)).join(', ')} not ready yet`
      for (const file of files) held.push({ path: file.path, reason: 'NOT_READY', message })
      continue
    }
    if (index === null && input.required && input.indexNames.length > 0) {
      const message = `waits for its batch's index (${input.indexNames.join(', ')}) in ${folder}`
      for (const file of files) held.push({ path: file.path, reason: 'WAITING_FOR_INDEX', message })
      continue
    }
    batches.push({ folder, index, files })
  }
  return { batches, held }
}

function firstIndex<F extends BatchCandidate>(
  indexes: readonly F[],
  folder: string,
  names: readonly string[],
) {
  const here = indexes.filter((i) => folderOf(i.path) === folder)
  for (const name of names) {
    const found = here.find((i) => i.name === name)
    if (found) return found
  }
  return null
}

/**
 * Up to `max` files: files without an index one by one, a batch with an index whole or not at all
 * (one larger than `max` is taken alone, as the first of the run), so an index never outlives half its batch.
 */
export function withinFileLimit<F extends BatchCandidate>(batches: readonly PlannedBatch<F>[], max: number) {
  const taken: PlannedBatch<F>[] = []
  let count = 0
  for (const batch of batches) {
    if (batch.index === null) {
      const files = batch.files.slice(0, Math.max(0, max - count))
      if (files.length > 0) taken.push({ ...batch, files })
      count += files.length
      continue
    }
    if (count + batch.files.length > max && count > 0) continue
    taken.push(batch)
    count += batch.files.length
  }
  return taken
}

export interface BatchReconciliation {
  /** Row of each file the index names, by file name. */
  rowOf: ReadonlyMap<string, IndexRow>
  notInIndex: string[]
  missing: { file: string; row: number }[]
}

/** How an index's rows and the folder's files meet. */
export function reconcileBatch(rows: readonly IndexRow[], fileNames: readonly string[]): BatchReconciliation {
  const rowOf = new Map(rows.map((r) => [r.file, r]))
  const present = new Set(fileNames)
  return {
    rowOf,
    notInIndex: fileNames.filter((n) => !rowOf.has(n)).sort(),
    missing: rows.filter((r) => !present.has(r.file)).map((r) => ({ file: r.file, row: r.row })),
  }
}

export interface BatchResultLine {
  file: string
  /** The index row, or null for a file the index does not name. */
  row: number | null
  state: string
  code: string | null
  message: string | null
  sdriveFileId: string | null
  recordId: string | null
}

export const BATCH_RESULT_COLUMNS = [
  'file',
  'row',
  'state',
  'code',
  'message',
  'sdriveFileId',
  'recordId',
] as const

/** The result file: one line per index row (in index order), then one per file the index does not name. */
export function renderBatchResult(lines: readonly BatchResultLine[]): string {
  const ordered = [...lines].sort(
    (a, b) =>
      (a.row ?? Number.MAX_SAFE_INTEGER) - (b.row ?? Number.MAX_SAFE_INTEGER) || a.file.localeCompare(b.file),
  )
  return [
    csvLine(BATCH_RESULT_COLUMNS),
    ...ordered.map((l) =>
      csvLine([
        l.file,
        l.row === null ? '' : String(l.row),
        l.state,
        l.code ?? '',
        l.message ?? '',
        l.sdriveFileId ?? '',
        l.recordId ?? '',
      ]),
    ),
  ].join('')
}
