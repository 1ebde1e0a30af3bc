/**
 * The claim stage: the files discovery found ready become the run's items,
 * each claimed in the ledger; a file another item holds (or held) becomes a
 * note on the run instead. A configuration fault lets the run's unstarted
 * files go again.
 */
import type { InboundFlow } from '../../config/schema.js'
import type { BridgeError } from '../../domain/errors.js'
import { ledgerKey } from '../../domain/readiness.js'
import type { AddItemsResult, NewItem, RunNote, RunRecord } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'
import { ACTIVE_ITEM_STATES } from '../../runs/rounds.js'
import { isErrorReport } from '../status/report.js'
import { type BatchClaim, claimBatches } from './batch-claim.js'
import type { RunContext, SourceFolderFlow } from './context.js'
import { type Discovery, discoverFiles } from './discover.js'

/** A status flow's own error reports sit beside its files when they are kept in place: never taken. */
export function withoutOwnReports(flow: SourceFolderFlow, discovered: Discovery): Discovery {
  const ours = (path: string) => flow.kind === 'status' && isErrorReport(path)
  return {
    ready: discovered.ready.filter((f) => !ours(f.name)),
    notes: discovered.notes.filter((n) => !ours(n.path)),
    indexes: discovered.indexes,
  }
}

/** Lists the source, claims what is ready (up to maxFilesPerRun) as the run's items and stores the notes. */
export async function claimFiles(ctx: RunContext, flow: SourceFolderFlow, run: RunRecord): Promise<void> {
  const remote = ctx.remotes.get(flow.source.endpoint)
  const discovered = withoutOwnReports(
    flow,
    await discoverFiles({ remote, flow, clock: ctx.clock, signal: ctx.control.shutdown }),
  )
  const { files, notes, batches } = await filesToTake(ctx, flow, run, discovered)
  for (const note of notes.filter((n) => n.reason === 'UNREADABLE_FILE_NAME')) {
    ctx.events.emit({ type: 'fault', flow: flow.name, code: note.reason, runId: run.id })
    ctx.logger.warn({ flow: flow.name, run: run.id, file: note.path }, `file left in place: ${note.message}`)
  }
  const newItems: NewItem[] = files.map((file) => ({
    endpoint: flow.source.endpoint,
    path: file.path,
    name: file.name,
    size: file.size,
    modifiedAt: file.modifiedAt,
    ledgerKey: ledgerKey(flow.source.endpoint, file),
    target: null,
  }))
  const { duplicates } = await ctx.store.addItems(run.id, newItems)
  for (const d of duplicates) {
    const note = await duplicateNote(ctx, run, d)
    if (note) notes.push(note)
  }
  await ctx.store.updateRun(run.id, {
    notes,
    ...(batches.length > 0 ? { batches: [...run.batches, ...batches] } : {}),
  })
}

/** Up to maxFilesPerRun of the ready files; with an index setting, as whole batches (batch-claim.ts). */
async function filesToTake(
  ctx: RunContext,
  flow: SourceFolderFlow,
  run: RunRecord,
  discovered: Discovery,
): Promise<BatchClaim> {
  if (flow.kind === 'inbound' && flow.index) {
    const claim = await claimBatches(ctx, flow, run, discovered)
    return { ...claim, notes: [...discovered.notes, ...claim.notes] }
  }
  return { files: discovered.ready.slice(0, flow.maxFilesPerRun), notes: discovered.notes, batches: [] }
}

type Duplicate = AddItemsResult['duplicates'][number]

/** Why a file already in the ledger was not taken; null when this run holds it already (a resumed run). */
async function duplicateNote(ctx: RunContext, run: RunRecord, d: Duplicate): Promise<RunNote | null> {
  if (!ACTIVE_ITEM_STATES.includes(d.ownerState)) {
    return {
      path: d.item.path,
      reason: 'ALREADY_PROCESSED',
      message: `processed before by item ${d.ownerItemId} (${d.ownerState})`,
    }
  }
  if ((await ctx.store.getItem(d.ownerItemId))?.runId === run.id) return null
  return {
    path: d.item.path,
    reason: 'IN_PROGRESS_ELSEWHERE',
    message: `being processed by item ${d.ownerItemId}`,
  }
}

/**
 * A configuration fault met in a lookup: the run's files not yet started are let go untouched
 * (skipped, their ledger claim released), so a run after the fix takes them as if this one had
 * not seen them.
 */
export async function letGoOfFiles(
  ctx: RunContext,
  flow: InboundFlow,
  runId: string,
  error: BridgeError,
): Promise<BridgeError> {
  const final = error.details?.problems ? error : (ctx.flowSchema?.lookupFailed(flow, error) ?? error)
  for (const item of await ctx.store.listItems(runId)) {
    if (item.state !== 'pending') continue
    await moveItem(ctx.store, item, 'skipped', { error: { code: final.code, message: final.message } })
    await ctx.store.releaseLedger(item.id)
  }
  return final
}
