/** Store records → API shapes (flat, named fields that read well in a Flow). */

import { posix } from 'node:path'
import type { PlannedFile } from '../flows/inbound/dry-run.js'
import { statusDetailOf } from '../flows/status/detail.js'
import type { ItemRecord, RunBatch, RunCounts, RunRecord } from '../ports/store.js'
import type { RunProgress } from '../runs/run-progress.js'

export function toRunSummaryView(run: RunRecord) {
  return {
    id: run.id,
    flow: run.flow,
    state: run.state,
    trigger: run.trigger,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    errorCode: run.error?.code ?? null,
    errorMessage: run.error?.message ?? null,
  }
}

export function toItemView(item: ItemRecord) {
  return {
    id: item.id,
    path: item.path,
    name: item.name,
    size: item.size,
    modifiedAt: new Date(item.modifiedAt).toISOString(),
    state: item.state,
    attempts: item.attempts,
    nextAttemptAt: item.nextAttemptAt,
    targetObject: item.target?.object ?? null,
    targetRecordId: item.target?.recordId ?? null,
    sdriveFileId: item.sdriveFileId,
    versionOf: item.target?.unchanged ? [] : (item.target?.versionOf ?? []),
    sha256: item.sha256,
    bytesTransferred: item.bytesTransferred,
    bytesMoved: item.bytesMoved,
    resumes: item.resumes,
    finalPath: item.finalPath,
    errorCode: item.error?.code ?? null,
    errorMessage: item.error?.message ?? null,
    statusFile: statusFileView(item),
  }
}

const MAX_ROWS_SHOWN = 1000

function statusFileView(item: ItemRecord) {
  const detail = statusDetailOf(item)
  if (!detail) return null
  const documents = new Map(detail.documents.map((d) => [d.index, d.itemId]))
  const rows = detail.outcomes
    .filter((o) => o.outcome === 'rejected' || documents.has(o.index))
    .sort((a, b) => a.index - b.index)
    .slice(0, MAX_ROWS_SHOWN)
    .map((o) => ({
      row: o.index,
      key: o.key,
      recordId: o.recordId,
      outcome: o.outcome,
      code: o.code,
      field: o.field,
      message: o.message,
      documentItemId: documents.get(o.index) ?? null,
    }))
  return {
    rowsTotal: detail.rowsTotal,
    rowsApplied: detail.rowsApplied,
    rowsRejected: detail.rowsRejected,
    reportPath: detail.reportPath,
    rows,
  }
}

/** The store's counts with the items' bytes moved and resumes summed (resumable transfers). */
function withMoved(counts: RunCounts, items: readonly ItemRecord[]) {
  let bytesMoved = 0
  let resumes = 0
  for (const item of items) {
    bytesMoved += item.bytesMoved
    resumes += item.resumes
  }
  return { ...counts, bytesMoved, resumes }
}

export function toRunDetailView(
  run: RunRecord,
  counts: RunCounts,
  items: ItemRecord[],
  progress: RunProgress,
) {
  const { runId: _runId, state: _state, ...figures } = progress
  return {
    ...toRunSummaryView(run),
    progress: figures,
    counts: withMoved(counts, items),
    notes: run.notes,
    batches: run.batches.map((batch) => toRunBatchView(batch, items)),
    items: items.map(toItemView),
  }
}

/** A batch's summary, with what became of its files counted from the run's items. */
export function toRunBatchView(batch: RunBatch, items: readonly ItemRecord[]) {
  const counts = { done: 0, failed: 0, skipped: 0 }
  for (const item of items) {
    if (posix.dirname(item.path) !== batch.folder) continue
    if (item.state === 'done' || item.state === 'failed' || item.state === 'skipped') counts[item.state]++
  }
  return {
    folder: batch.folder,
    indexPath: batch.indexPath,
    indexFinalPath: batch.indexFinalPath,
    rows: batch.rows,
    ...counts,
    notInIndex: batch.notInIndex,
    missing: batch.missing,
    resultPath: batch.resultPath,
    settled: batch.settled,
  }
}

export function toPlannedFileView(file: PlannedFile) {
  return {
    path: file.path,
    size: file.size,
    action: file.action,
    targetObject: file.target?.object ?? null,
    targetRecordId: file.target?.recordId ?? null,
    fileObject: file.target?.fileObject ?? null,
    reason: file.reason,
    code: file.code,
  }
}

export type RunDetailView = ReturnType<typeof toRunDetailView>

export function toJobSummaryView(job: RunRecord) {
  return { ...toRunSummaryView(job), notBefore: job.notBefore }
}

export function toJobFileView(item: ItemRecord) {
  return {
    id: item.id,
    fileId: item.target?.fileId ?? null,
    recordId: item.target?.recordId ?? null,
    name: item.name,
    remotePath: item.finalPath ?? item.path,
    size: item.size,
    state: item.state,
    attempts: item.attempts,
    sha256: item.sha256,
    plaintextSha256: item.target?.plaintextSha256 ?? item.sha256,
    bytesTransferred: item.bytesTransferred,
    bytesMoved: item.bytesMoved,
    resumes: item.resumes,
    errorCode: item.error?.code ?? null,
    errorMessage: item.error?.message ?? null,
  }
}

export function toJobDetailView(job: RunRecord, counts: RunCounts, items: ItemRecord[]) {
  const request = (job.request ?? {}) as { recordIds?: string[]; fileIds?: string[] }
  return {
    ...toJobSummaryView(job),
    recordIds: request.recordIds ?? [],
    fileIds: request.fileIds ?? [],
    counts: withMoved(counts, items),
    notes: job.notes,
    files: items.map(toJobFileView),
  }
}
