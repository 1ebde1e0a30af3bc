/**
 * The report of an aborted atomic batch: one `_batch-<run>.error.json` in the
 * error folder beside the folder's files (each with its own
 * `<name>.error.json`): which file failed and why, what was removed from
 * S-Drive again, what was never uploaded, and what is left for a person.
 * Named by run, so writing it again after a crash replaces it.
 */
import { posix } from 'node:path'
import { Readable } from 'node:stream'
import type { InboundFlow } from '../../config/schema.js'
import { BATCH_ABORTED } from '../../domain/batch-folder.js'
import type { ItemRecord } from '../../ports/store.js'
import type { RunContext } from './context.js'
import { destinationDir } from './dispose.js'

export interface BatchReport {
  flow: string
  runId: string
  /** The folder on the server the batch came from. */
  folder: string
  /** The files that failed on their own: why the batch was undone. */
  failed: { file: string; code: string; message: string }[]
  /** Uploaded in this run and removed from S-Drive again (or marked, per sdrive.replaceMode). */
  rolledBack: { file: string; sdriveFileId: string }[]
  /** Never uploaded (or nothing of theirs was): left out because of the failure. */
  notUploaded: string[]
  /** Uploaded, but S-Drive refused to remove them again: still there, to be removed by hand. */
  rollbackFailed: { file: string; sdriveFileId: string | null }[]
  time: string
}

export function batchReportOf(
  flow: InboundFlow,
  folder: string,
  items: readonly ItemRecord[],
  culprits: readonly ItemRecord[],
  time: string,
): BatchReport {
  return {
    flow: flow.name,
    runId: (items[0] as ItemRecord).runId,
    folder,
    failed: culprits.map((c) => ({
      file: c.path,
      code: c.error?.code ?? 'INTERNAL',
      message: c.error?.message ?? 'failed',
    })),
    rolledBack: items.flatMap((i) =>
      i.target?.rolledBackId ? [{ file: i.path, sdriveFileId: i.target.rolledBackId }] : [],
    ),
    notUploaded: items.filter((i) => i.error?.code === BATCH_ABORTED).map((i) => i.path),
    rollbackFailed: items
      .filter((i) => i.target?.rollbackFailed)
      .map((i) => ({ file: i.path, sdriveFileId: i.sdriveFileId })),
    time,
  }
}

/** The report's path: in the error folder that mirrors the batch folder. */
export function batchReportPath(flow: InboundFlow, item: ItemRecord): string {
  const dir = destinationDir(flow.after.errorDirectory, item, flow.source.directory)
  return posix.join(dir, `_batch-${item.runId}.error.json`)
}

export async function writeBatchReport(
  ctx: RunContext,
  flow: InboundFlow,
  folder: string,
  items: readonly ItemRecord[],
  culprits: readonly ItemRecord[],
): Promise<void> {
  const first = items[0] as ItemRecord
  const report = batchReportOf(flow, folder, items, culprits, new Date(ctx.clock.now()).toISOString())
  const path = batchReportPath(flow, first)
  const remote = ctx.remotes.get(first.endpoint)
  const opts = { signal: ctx.control.shutdown }
  await remote.mkdirp(posix.dirname(path), opts)
  const body = Buffer.from(`${JSON.stringify(report, null, 2)}\n`, 'utf8')
  await remote.write(path, Readable.from([body]), opts)
}
