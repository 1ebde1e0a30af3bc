/**
 * The end of a batch with an index: once every file of the batch folder
 * settled (done, skipped, or failed and reported), a `<index>.result.csv`
 * (one line per index row and per file the index does not name) is
 * written and the index disposed of as the flow disposes of its files: with
 * after.success move both go to the processed folder; an atomic folder that
 * was undone (batch.atomic) took its files to the error folder, and its index
 * and result follow them there, whatever after.success says. Safe to repeat after
 * a crash: the result is rewritten, a moved index is not moved again.
 */
import { posix } from 'node:path'
import { Readable } from 'node:stream'
import type { InboundFlow } from '../../config/schema.js'
import { type BatchResultLine, indexResultName, renderBatchResult } from '../../domain/batch-index.js'
import { isTransient, toBridgeError } from '../../domain/errors.js'
import type { IndexRow } from '../../domain/index-file.js'
import type { RemoteFiles } from '../../ports/remote-files.js'
import type { ItemRecord, RunBatch, RunNote, RunRecord } from '../../ports/store.js'
import { batchOf, readIndex } from './batch-claim.js'
import { isAtomic } from './batch-gate.js'
import type { RunContext } from './context.js'
import { failureUnreported, freeName } from './dispose.js'

/** Settles every batch of the run whose files all settled; returns whether any batch is still open. */
export async function settleBatches(ctx: RunContext, flow: InboundFlow, runId: string): Promise<boolean> {
  const run = await ctx.store.getRun(runId)
  if (!run?.batches.some((b) => !b.settled)) return false
  const items = await ctx.store.listItems(runId)
  const batches = [...run.batches]
  let open = false
  for (const [i, batch] of batches.entries()) {
    if (batch.settled) continue
    const own = items.filter((item) => batchOf({ batches: [batch] }, item.path) !== undefined)
    if (!own.every((item) => itemSettled(flow, item))) {
      open = true
      continue
    }
    try {
      batches[i] = await settleBatch(ctx, flow, run, batch, own)
      await ctx.store.updateRun(runId, { batches })
    } catch (error) {
      if (ctx.control.signal.aborted) throw error
      const e = toBridgeError(error, 'REMOTE_IO')
      const log = { flow: flow.name, run: runId, folder: batch.folder, code: e.code, err: e.message }
      if (isTransient(e)) {
        open = true
        ctx.logger.warn(log, 'could not write the result of a batch; will retry')
        continue
      }
      // A refusal (no permission to write there) would keep the run open for ever: the batch is
      // closed without its result file, the index stays where it is, and the fault is counted.
      ctx.events.emit({ type: 'fault', flow: flow.name, code: e.code, runId })
      ctx.logger.error(log, 'the result of a batch could not be written; its index stays in place')
      batches[i] = { ...batch, settled: true }
      await ctx.store.updateRun(runId, { batches })
    }
  }
  return open
}

function itemSettled(flow: InboundFlow, item: ItemRecord): boolean {
  if (item.state === 'done' || item.state === 'skipped') return true
  return item.state === 'failed' && !failureUnreported(flow, item)
}

async function settleBatch(
  ctx: RunContext,
  flow: InboundFlow,
  run: RunRecord,
  batch: RunBatch,
  items: ItemRecord[],
): Promise<RunBatch> {
  const remote = ctx.remotes.get(flow.source.endpoint)
  const signal = ctx.control.shutdown
  const opts = { signal }
  // The index is read again for its order; it is still where it was found (nothing moved it yet).
  const inPlace = (await remote.stat(batch.indexPath, { ...opts, modifiedAt: false })) !== null
  const parsed = inPlace && flow.index ? await readIndex(remote, batch.indexPath, flow.index, signal) : null
  const rows = parsed?.ok ? parsed.rows : []
  const csv = renderBatchResult(resultLines(batch, rows, items, run.notes))
  // An atomic folder that was undone went to the error directory as a whole: its index follows it.
  const undone = isAtomic(flow) && items.some((i) => i.state === 'failed')
  if (!inPlace || (!undone && flow.after.success !== 'move')) {
    // Kept or deleted (or gone already): the result stays in the batch folder, where discovery skips it.
    const resultPath = posix.join(batch.folder, indexResultName(posix.basename(batch.indexPath)))
    await write(remote, resultPath, csv, signal)
    if (inPlace && flow.after.success === 'delete') await remote.delete(batch.indexPath, opts)
    return { ...batch, resultPath, settled: true }
  }
  const rel = posix.relative(flow.source.directory, batch.folder)
  const base = undone ? flow.after.errorDirectory : (flow.after.processedDirectory as string)
  const dir = rel === '' || rel.startsWith('..') ? base : posix.join(base, rel)
  const indexFinalPath = await freeName(remote, dir, posix.basename(batch.indexPath), run.id, signal)
  const resultPath = `${indexFinalPath.slice(0, indexFinalPath.lastIndexOf('/') + 1)}${indexResultName(posix.basename(indexFinalPath))}`
  // The result first: a crash before the move leaves the index in place, and the next try writes it again.
  await write(remote, resultPath, csv, signal)
  await remote.rename(batch.indexPath, indexFinalPath, opts)
  return { ...batch, indexFinalPath, resultPath, settled: true }
}

async function write(remote: RemoteFiles, path: string, text: string, signal: AbortSignal) {
  await remote.write(path, Readable.from([Buffer.from(text, 'utf8')]), { signal })
}

/** One line per index row (its file's item, FILE_MISSING, or why it was not taken) and per unindexed file. */
export function resultLines(
  batch: RunBatch,
  rows: readonly IndexRow[],
  items: readonly ItemRecord[],
  notes: readonly RunNote[],
): BatchResultLine[] {
  const byName = new Map(items.map((i) => [i.name, i]))
  const rowNumbers = new Map<string, number>(rows.map((r) => [r.file, r.row]))
  for (const m of batch.missing) rowNumbers.set(m.file, m.row)
  const lines: BatchResultLine[] = []
  const named = new Set<string>()
  for (const [file, row] of rowNumbers) {
    named.add(file)
    const item = byName.get(file)
    if (item) {
      lines.push(itemLine(item, row))
      continue
    }
    const missing = batch.missing.some((m) => m.file === file)
    const note = notes.find((n) => n.path === posix.join(batch.folder, file))
    lines.push({
      file,
      row,
      state: missing ? 'missing' : 'skipped',
      code: missing ? 'FILE_MISSING' : (note?.reason ?? null),
      message: note?.message ?? null,
      sdriveFileId: null,
      recordId: null,
    })
  }
  for (const item of items) if (!named.has(item.name)) lines.push(itemLine(item, null))
  return lines
}

function itemLine(item: ItemRecord, row: number | null): BatchResultLine {
  return {
    file: item.name,
    row,
    state: item.state,
    code: item.error?.code ?? null,
    message: item.error?.message ?? null,
    sdriveFileId: item.sdriveFileId,
    recordId: item.target?.recordId ?? null,
  }
}
