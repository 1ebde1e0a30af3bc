/** File outcomes as the audit API shows them: the audit trail's fields of each stored item. */
import type { ItemRecord } from '../ports/store.js'
import type { RunKind } from '../runs/events.js'
import { auditFields } from '../runs/item-audit.js'

export interface FileOutcomeView {
  /** When the outcome was stored (the item's last change). */
  time: string
  flow: string
  runId: string
  itemId: string
  /** The flow's kind; null when the flow is no longer configured. */
  kind: RunKind | null
  outcome: string
  code: string | null
  message: string | null
  sourcePath: string | null
  finalPath: string | null
  object: string | null
  recordId: string | null
  sdriveFileId: string | null
  bytes: number
  sha256: string | null
  attempts: number
  durationMs: number | null
}

export function toFileOutcomeView(item: ItemRecord, kind: RunKind | null): FileOutcomeView {
  const audit = auditFields(item, kind === 'outbound')
  return {
    time: item.updatedAt,
    flow: item.flow,
    runId: item.runId,
    itemId: item.id,
    kind,
    outcome: item.state,
    code: audit.code,
    message: audit.message,
    sourcePath: audit.sourcePath,
    finalPath: audit.finalPath,
    object: audit.object,
    recordId: audit.recordId,
    sdriveFileId: audit.sdriveFileId,
    bytes: audit.bytes,
    sha256: audit.sha256,
    attempts: audit.attempts,
    durationMs: audit.durationMs,
  }
}
