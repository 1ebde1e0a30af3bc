/** File outcomes as the audit API shows them: the audit trail's fields of each stored item. */
import type { ItemRecord } from '../ports/store.js'
import type { ItemAudit, RunKind } from '../runs/events.js'
import { auditFields } from '../runs/item-audit.js'

export interface FileOutcomeView extends Omit<ItemAudit, 'kind'> {
  /** When the outcome was stored (the item's last change). */
  time: string
  flow: string
  runId: string
  itemId: string
  /** The flow's kind; null when the flow is no longer configured. */
  kind: RunKind | null
  outcome: string
}

export function toFileOutcomeView(item: ItemRecord, kind: RunKind | null): FileOutcomeView {
  return {
    time: item.updatedAt,
    flow: item.flow,
    runId: item.runId,
    itemId: item.id,
    kind,
    outcome: item.state,
    ...auditFields(item, kind === 'outbound'),
  }
}
