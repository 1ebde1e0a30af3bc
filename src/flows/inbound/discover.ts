/**
 * Lists a flow's source directory and decides which files are complete
 * enough to take now. A file still being written is left for a later run.
 */
import picomatch from 'picomatch'
import type { SourceFlow } from '../../config/schema.js'
import { indexResultName } from '../../domain/batch-index.js'
import { isBridgeError } from '../../domain/errors.js'
import { assertSafeEntryName, relativeTo, unreadableNameReason } from '../../domain/file-names.js'
import {
  DEFAULT_READINESS,
  firstLook,
  isMarker,
  type ListedFile,
  needsSecondLook,
  secondLook,
} from '../../domain/readiness.js'
import type { Clock } from '../../ports/clock.js'
import type { RemoteEntry, RemoteFiles } from '../../ports/remote-files.js'
import type { RunNote } from '../../ports/store.js'

export interface DiscoveredFile extends ListedFile {
  /** Directory relative to the flow's source directory ('' at its root). */
  relativeDir: string
  /** A batch folder's index file (the flow's index.names): read, never uploaded. */
  isIndex?: true
}

export interface Discovery {
  ready: DiscoveredFile[]
  notes: RunNote[]
  /** Ready index files of batch folders (flows with an index setting), not among ready. */
  indexes: DiscoveredFile[]
}

/** The flow's index file names, and how each index's result file is named. */
function indexNamesOf(flow: SourceFlow): readonly string[] {
  return flow.index?.names ?? []
}

/**
 * An index is handled once its result file is beside it and not older (after.success keep): the same
 * index is not read again; a newer index in the folder is a new batch.
 */
function handledIndex(entry: RemoteEntry, byName: ReadonlyMap<string, RemoteEntry>): boolean {
  const result = byName.get(indexResultName(entry.name))
  return result !== undefined && result.modifiedAt >= entry.modifiedAt
}

const MAX_DEPTH = 32

async function listTree(
  remote: RemoteFiles,
  root: string,
  recursive: boolean,
  signal: AbortSignal | undefined,
): Promise<Map<string, RemoteEntry[]>> {
  const byDir = new Map<string, RemoteEntry[]>()
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await remote.list(dir, signal ? { signal } : {})
    byDir.set(dir, entries)
    if (!recursive || depth >= MAX_DEPTH) return
    for (const entry of entries) {
      if (entry.type === 'directory') await walk(entry.path, depth + 1)
    }
  }
  await walk(root, 0)
  return byDir
}

/**
 * A symlink (or device, socket, FIFO) the flow would take if it were a file.
 * It is never followed: where a link leads on the partner's server is not
 * ours to judge, and a link out of the partner's area must not carry a file
 * of the server's into Salesforce. It stays where it is, reported in every run.
 */
function notARegularFile(entry: RemoteEntry): RunNote {
  return {
    path: entry.path,
    reason: 'NOT_A_REGULAR_FILE',
    message: 'not a regular file (a symbolic link or special file); it is not followed and stays where it is',
  }
}

/**
 * U+FFFD in a listed name usually stands for bytes that were not UTF-8, but a
 * name may really contain it: asking for the path tells the two apart. A line
 * break cannot be asked for at all.
 */
async function foundByName(remote: RemoteFiles, entry: RemoteEntry, signal: AbortSignal | undefined) {
  if (/[\r\n]/.test(entry.name)) return false
  return (await remote.stat(entry.path, { modifiedAt: false, ...(signal ? { signal } : {}) })) !== null
}

export interface DiscoverOptions {
  remote: RemoteFiles
  flow: SourceFlow
  clock: Clock
  signal?: AbortSignal
  /** Directories never scanned even if below the source (the flow's own processed/error folders). */
  skipDirs?: string[]
}

export async function discoverFiles(options: DiscoverOptions): Promise<Discovery> {
  const { remote, flow, clock, signal } = options
  const readiness = flow.readiness ?? DEFAULT_READINESS
  const root = flow.source.directory
  const include = picomatch(flow.source.include, { dot: false })
  const exclude = flow.source.exclude.length > 0 ? picomatch(flow.source.exclude) : () => false
  const skipDirs = new Set([
    flow.after.processedDirectory,
    flow.after.errorDirectory,
    ...(options.skipDirs ?? []),
  ])

  const tree = await listTree(remote, root, flow.source.recursive, signal)
  const notes: RunNote[] = []
  const candidates: DiscoveredFile[] = []
  const now = clock.now()
  const indexNames = indexNamesOf(flow)
  const resultNames = new Set(indexNames.map(indexResultName))

  for (const [dir, entries] of tree) {
    if (skipDirs.has(dir)) continue
    const names = new Set(entries.map((e) => e.name))
    const byName = new Map(entries.map((e) => [e.name, e]))
    const relativeDir = relativeTo(root, dir) ?? ''
    for (const entry of entries) {
      if (entry.type === 'file' && resultNames.has(entry.name)) continue
      if (entry.type === 'file' && indexNames.includes(entry.name)) {
        // Taken whatever include and exclude say: the index belongs to the batch, not to the documents.
        if (handledIndex(entry, byName)) continue
        const file: DiscoveredFile = { ...listedOf(entry), relativeDir, isIndex: true }
        const verdict = firstLook(file, readiness, names, now)
        if (verdict.ready) candidates.push(file)
        else notes.push({ path: file.path, reason: 'NOT_READY', message: verdict.reason })
        continue
      }
      if (entry.type === 'other') {
        const relPath = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`
        if ((include(relPath) || include(entry.name)) && !exclude(relPath) && !exclude(entry.name)) {
          notes.push(notARegularFile(entry))
        }
        continue
      }
      if (entry.type !== 'file') continue
      try {
        assertSafeEntryName(entry.name)
      } catch (error) {
        notes.push({
          path: entry.path,
          reason: 'UNREADABLE_FILE_NAME',
          message: isBridgeError(error) ? error.message : 'bad name',
        })
        continue
      }
      if (isMarker(entry.name, readiness)) continue
      const relPath = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`
      if (!include(relPath) && !include(entry.name)) continue
      if (exclude(relPath) || exclude(entry.name)) continue
      // Reported in every run instead of failing as an item: the file cannot be opened, moved to
      // the error folder or given a reason file by this name, so it stays for the operator to rename.
      const unreadable = unreadableNameReason(entry.name)
      if (unreadable !== null && !(await foundByName(remote, entry, signal))) {
        notes.push({ path: entry.path, reason: 'UNREADABLE_FILE_NAME', message: unreadable })
        continue
      }
      const file: DiscoveredFile = { ...listedOf(entry), relativeDir }
      const verdict = firstLook(file, readiness, names, now)
      if (verdict.ready) candidates.push(file)
      else notes.push({ path: file.path, reason: 'NOT_READY', message: verdict.reason })
    }
  }

  if (candidates.length === 0 || !needsSecondLook(readiness) || readiness.mode !== 'stable') {
    return split(candidates, notes)
  }

  await clock.sleep(readiness.stableSeconds * 1000, signal)
  const dirs = [...new Set(candidates.map((c) => c.path.slice(0, c.path.lastIndexOf('/')) || '/'))]
  const again = new Map<string, RemoteEntry>()
  for (const dir of dirs) {
    for (const entry of await remote.list(dir, signal ? { signal } : {})) again.set(entry.path, entry)
  }
  const ready: DiscoveredFile[] = []
  for (const file of candidates) {
    const verdict = secondLook(file, again.get(file.path))
    if (verdict.ready) ready.push(file)
    else notes.push({ path: file.path, reason: 'NOT_READY', message: verdict.reason })
  }
  return split(ready, notes)
}

function listedOf(entry: RemoteEntry): ListedFile {
  return { path: entry.path, name: entry.name, size: entry.size, modifiedAt: entry.modifiedAt }
}

function split(ready: DiscoveredFile[], notes: RunNote[]): Discovery {
  return {
    ready: ready.filter((f) => f.isIndex !== true),
    indexes: ready.filter((f) => f.isIndex === true),
    notes,
  }
}
