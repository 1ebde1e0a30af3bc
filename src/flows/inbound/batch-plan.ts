/**
 * The dry run's view of batch folders with an index: which index each
 * batch has (or lacks), the files the index does not name and the rows
 * whose file is not there, and the index columns each file would match
 * with. Nothing is claimed or written.
 */
import { posix } from 'node:path'
import type { InboundFlow } from '../../config/schema.js'
import type { RemoteFiles } from '../../ports/remote-files.js'
import type { RunNote } from '../../ports/store.js'
import { takeBatches } from './batch-claim.js'
import type { DiscoveredFile, Discovery } from './discover.js'

export interface PlannedBatch {
  folder: string
  /** The index found, or null: none there (yet). */
  index: string | null
  /** INDEX_INVALID (an index that cannot be read) or WAITING_FOR_INDEX (required, none there); null when taken. */
  code: string | null
  rows: number
  notInIndex: string[]
  missing: string[]
}

/** A file to plan, with its index row's columns when its batch's index names it. */
export type IndexedFile = DiscoveredFile & { index?: Readonly<Record<string, string>> }

export interface BatchPlanView {
  ready: IndexedFile[]
  notes: RunNote[]
  batches: PlannedBatch[]
}

export async function planIndexedBatches(
  remote: RemoteFiles,
  flow: InboundFlow,
  discovered: Discovery,
  signal?: AbortSignal,
): Promise<BatchPlanView> {
  const taken = await takeBatches(remote, flow, discovered, new Set(), signal)
  const batches: PlannedBatch[] = taken.batches.map((b) => ({
    folder: b.folder,
    index: b.indexPath,
    code: null,
    rows: b.rows,
    notInIndex: b.notInIndex,
    missing: b.missing.map((m) => m.file),
  }))
  const folders = new Set(batches.map((b) => b.folder))
  for (const note of taken.notes) {
    const folder = posix.dirname(note.path)
    if (folders.has(folder)) continue
    if (note.reason === 'INDEX_INVALID' || note.reason === 'WAITING_FOR_INDEX') {
      folders.add(folder)
      const invalid = taken.notes.find(
        (n) => n.reason === 'INDEX_INVALID' && posix.dirname(n.path) === folder,
      )
      batches.push({
        folder,
        index: invalid?.path ?? null,
        code: invalid ? 'INDEX_INVALID' : 'WAITING_FOR_INDEX',
        rows: 0,
        notInIndex: [],
        missing: [],
      })
    }
  }
  const ready = taken.files.map((f) => {
    const index = taken.columns.get(f.path)
    return index ? { ...f, index } : f
  })
  batches.sort((a, b) => a.folder.localeCompare(b.folder))
  return { ready, notes: [...discovered.notes, ...taken.notes], batches }
}

/** With index.required, a file of a taken batch its index does not name would fail. */
export function notInIndexOf(
  flow: InboundFlow,
  batches: readonly PlannedBatch[],
  file: DiscoveredFile,
): boolean {
  if (!flow.index?.required) return false
  const batch = batches.find((b) => b.folder === posix.dirname(file.path) && b.code === null)
  return batch?.notInIndex.includes(file.name) ?? false
}
