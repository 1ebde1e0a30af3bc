/**
 * The claim side of batch folders with an index (sidecar) file: which of
 * discovery's ready files a run takes (src/domain/batch-index.ts decides),
 * each batch's index read and met with its folder's files, and the run's
 * summary of every batch it takes (`RunRecord.batches`).
 */
import { posix } from 'node:path'
import type { InboundFlow, IndexConfig } from '../../config/schema.js'
import { planBatches, reconcileBatch, withinFileLimit } from '../../domain/batch-index.js'
import { BridgeError, isTransient, toBridgeError } from '../../domain/errors.js'
import { type ParsedIndex, parseIndexFile } from '../../domain/index-file.js'
import type { RemoteFiles } from '../../ports/remote-files.js'
import type { RunBatch, RunNote, RunRecord } from '../../ports/store.js'
import type { RunContext } from './context.js'
import type { DiscoveredFile } from './discover.js'

/** Reads an index within index.maxBytes and parses it; a broken or oversized one is INDEX_INVALID. */
export async function readIndex(
  remote: RemoteFiles,
  path: string,
  config: IndexConfig,
  signal?: AbortSignal,
): Promise<ParsedIndex> {
  const name = posix.basename(path)
  const tooLarge = (): ParsedIndex => ({
    ok: false,
    code: 'INDEX_INVALID',
    message: `${name} is larger than ${config.maxBytes} bytes (index.maxBytes)`,
  })
  const bytes = await remote.read(
    path,
    async (stream) => {
      const chunks: Buffer[] = []
      let total = 0
      for await (const chunk of stream) {
        total += (chunk as Buffer).length
        if (total > config.maxBytes) {
          stream.destroy()
          return null
        }
        chunks.push(chunk as Buffer)
      }
      return Buffer.concat(chunks)
    },
    signal ? { signal } : {},
  )
  if (bytes === null) return tooLarge()
  return parseIndexFile(name, bytes, { fileColumn: config.fileColumn })
}

export interface BatchClaim {
  /** The files this run takes. */
  files: DiscoveredFile[]
  notes: RunNote[]
  /** Summaries of the batches with an index this run takes (those it did not have yet). */
  batches: RunBatch[]
}

export interface TakenBatches extends BatchClaim {
  /** The index columns of each taken file its index names, by path (batches read here only). */
  columns: ReadonlyMap<string, Readonly<Record<string, string>>>
}

/**
 * Of discovery's ready files, those to take: batches with an unreadable index, and with
 * index.required batches without one, stay where they are (noted); the rest within maxFilesPerRun.
 * The index of a folder in `known` (a resumed run's batches) is not read again.
 */
export async function takeBatches(
  remote: RemoteFiles,
  flow: InboundFlow,
  discovered: { ready: DiscoveredFile[]; indexes: DiscoveredFile[]; notes: RunNote[] },
  known: ReadonlySet<string>,
  signal?: AbortSignal,
): Promise<TakenBatches> {
  const config = flow.index as IndexConfig
  const { batches, held } = planBatches({
    ready: discovered.ready,
    indexes: discovered.indexes,
    notReady: discovered.notes.filter((n) => n.reason === 'NOT_READY').map((n) => n.path),
    indexNames: config.names,
    required: config.required,
  })
  const notes: RunNote[] = [...held]
  const readable: typeof batches = []
  const summaries: RunBatch[] = []
  const columns = new Map<string, Readonly<Record<string, string>>>()
  for (const batch of batches) {
    if (batch.index === null || known.has(batch.folder)) {
      readable.push(batch)
      continue
    }
    const parsed = await readIndex(remote, batch.index.path, config, signal).catch((error): ParsedIndex => {
      const e = toBridgeError(error, 'REMOTE_IO')
      if (isTransient(e)) throw e
      return { ok: false, code: 'INDEX_INVALID', message: e.message }
    })
    if (!parsed.ok) {
      notes.push({ path: batch.index.path, reason: 'INDEX_INVALID', message: parsed.message })
      for (const file of batch.files) {
        notes.push({
          path: file.path,
          reason: 'WAITING_FOR_INDEX',
          message: `its batch's index ${batch.index.name} cannot be read; the batch stays until it is fixed`,
        })
      }
      continue
    }
    const met = reconcileBatch(
      parsed.rows,
      batch.files.map((f) => f.name),
    )
    for (const file of batch.files) {
      const row = met.rowOf.get(file.name)
      if (row) columns.set(file.path, row.columns)
    }
    readable.push(batch)
    summaries.push({
      folder: batch.folder,
      indexPath: batch.index.path,
      indexFinalPath: null,
      rows: parsed.rows.length,
      notInIndex: met.notInIndex,
      missing: met.missing,
      resultPath: null,
      settled: false,
    })
  }
  const taken = withinFileLimit(readable, flow.maxFilesPerRun)
  const takenFolders = new Set(taken.map((b) => b.folder))
  const takenSummaries = summaries.filter((s) => takenFolders.has(s.folder))
  for (const summary of takenSummaries) notes.push(...missingNotes(summary))
  return { files: taken.flatMap((b) => b.files), notes, batches: takenSummaries, columns }
}

/** The run's share of the ready files, as whole batches; a broken index counts as a fault of the flow. */
export async function claimBatches(
  ctx: RunContext,
  flow: InboundFlow,
  run: RunRecord,
  discovered: { ready: DiscoveredFile[]; indexes: DiscoveredFile[]; notes: RunNote[] },
): Promise<BatchClaim> {
  const remote = ctx.remotes.get(flow.source.endpoint)
  const known = new Set(run.batches.map((b) => b.folder))
  const taken = await takeBatches(remote, flow, discovered, known, ctx.control.shutdown)
  for (const note of taken.notes.filter((n) => n.reason === 'INDEX_INVALID')) {
    ctx.events.emit({ type: 'fault', flow: flow.name, code: 'INDEX_INVALID', runId: run.id })
    ctx.logger.warn({ flow: flow.name, run: run.id, file: note.path }, `batch left in place: ${note.message}`)
  }
  return { files: taken.files, notes: taken.notes, batches: taken.batches }
}

function missingNotes(batch: RunBatch): RunNote[] {
  const index = posix.basename(batch.indexPath)
  return batch.missing.map((m) => ({
    path: posix.join(batch.folder, m.file),
    reason: 'FILE_MISSING' as const,
    message: `row ${m.row} of ${index} names it, but it is not in the batch folder`,
  }))
}

/** The summary of the batch a file belongs to, if its folder came with an index. */
export function batchOf(run: Pick<RunRecord, 'batches'>, path: string): RunBatch | undefined {
  const folder = posix.dirname(path)
  return run.batches.find((b) => b.folder === folder)
}

export function indexUnreadable(batch: RunBatch, why: string): BridgeError {
  return new BridgeError('INDEX_INVALID', `the index ${batch.indexPath} of its batch: ${why}`)
}
