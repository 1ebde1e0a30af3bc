/**
 * How far a run is: files and bytes done out of the total, and an estimate
 * of the time left from the rate so far. Pure: records in, numbers out.
 */
import type { ItemRecord, RunCounts, RunRecord, RunSizes } from '../ports/store.js'

export interface RunProgress {
  runId: string
  state: RunRecord['state']
  filesDone: number
  filesFailed: number
  filesTotal: number
  bytesDone: number
  bytesTotal: number
  /** Seconds left at the rate seen since the run started; null until there is a rate. */
  etaSeconds: number | null
}

const FINISHED: ReadonlySet<ItemRecord['state']> = new Set(['done', 'skipped', 'failed'])

export function runProgress(
  run: RunRecord,
  items: readonly ItemRecord[],
  inFlightBytes: ReadonlyMap<string, number>,
  nowMs: number,
): RunProgress {
  let bytesDone = 0
  let bytesTotal = 0
  for (const item of items) {
    bytesTotal += item.size
    // Uploaded files waiting only for the source to be tidied count as done bytes.
    if (FINISHED.has(item.state) || item.state === 'finalizing') bytesDone += item.size
    else bytesDone += Math.min(item.size, inFlightBytes.get(item.id) ?? 0)
  }
  return withEta(run, nowMs, {
    filesDone: items.filter((i) => i.state === 'done' || i.state === 'skipped').length,
    filesFailed: items.filter((i) => i.state === 'failed').length,
    filesTotal: items.length,
    bytesDone,
    bytesTotal,
  })
}

/**
 * The same figures from a run's counts and sizes and only the items in flight, so a run of
 * 100,000 files is measured without listing them.
 */
export function runProgressFromTotals(
  run: RunRecord,
  counts: RunCounts,
  sizes: RunSizes,
  inFlight: readonly { item: ItemRecord; bytes: number }[],
  nowMs: number,
): RunProgress {
  let bytesDone = sizes.bytesFinished
  for (const { item, bytes } of inFlight) {
    if (!FINISHED.has(item.state) && item.state !== 'finalizing') bytesDone += Math.min(item.size, bytes)
  }
  return withEta(run, nowMs, {
    filesDone: counts.done + counts.skipped,
    filesFailed: counts.failed,
    filesTotal: counts.total,
    bytesDone,
    bytesTotal: sizes.bytesTotal,
  })
}

type Figures = Omit<RunProgress, 'runId' | 'state' | 'etaSeconds'>

function withEta(run: RunRecord, nowMs: number, figures: Figures): RunProgress {
  const started = run.startedAt ? Date.parse(run.startedAt) : null
  const elapsed = started === null ? 0 : (nowMs - started) / 1000
  const rate = elapsed > 0 ? figures.bytesDone / elapsed : 0
  const left = figures.bytesTotal - figures.bytesDone
  return {
    runId: run.id,
    state: run.state,
    ...figures,
    etaSeconds: left === 0 ? 0 : rate > 0 ? Math.ceil(left / rate) : null,
  }
}
