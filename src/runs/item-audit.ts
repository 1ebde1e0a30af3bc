/**
 * A file's outcome as the audit trail records it, built from its stored
 * item: the same mapping serves the `item-finished` event (the log line)
 * and the audit API, so both say the same thing about a file.
 */
import type { ItemRecord } from '../ports/store.js'
import type { ItemAudit, RunEventOf, RunKind } from './events.js'

export type FinalOutcome = 'done' | 'skipped' | 'failed'

function durationOf(item: ItemRecord): number | null {
  const ms = Date.parse(item.updatedAt) - Date.parse(item.createdAt)
  return Number.isFinite(ms) && ms >= 0 ? ms : null
}

export function itemAudit(kind: RunKind, item: ItemRecord): ItemAudit {
  return { kind, ...auditFields(item, kind === 'outbound') }
}

/** The audit fields of a stored item; `exported` for an export's item, whose source is an S-Drive file. */
export function auditFields(item: ItemRecord, exported: boolean): Omit<ItemAudit, 'kind'> {
  return {
    // An export's item path is its planned destination, not a source.
    sourcePath: exported ? null : item.path,
    finalPath: item.finalPath,
    object: item.target?.object ?? null,
    recordId: item.target?.recordId ?? null,
    sdriveFileId: item.sdriveFileId ?? item.target?.fileId ?? null,
    bytes: item.bytesTransferred,
    sha256: item.sha256,
    attempts: item.attempts,
    durationMs: durationOf(item),
    code: item.error?.code ?? null,
    message: item.error?.message ?? null,
  }
}

/**
 * The `item-finished` event of an item that reached a final state, `item`
 * being the stored record after the move. `bytes` is what the metrics count
 * as moved (0 for a file skipped or failed).
 */
export function itemFinished(
  kind: RunKind,
  item: ItemRecord,
  outcome: FinalOutcome,
  bytes: number,
): RunEventOf<'item-finished'> {
  return {
    type: 'item-finished',
    flow: item.flow,
    runId: item.runId,
    itemId: item.id,
    outcome,
    bytes,
    audit: itemAudit(kind, item),
  }
}
