/**
 * What the stages of a status file share: the services they call and the
 * detail its item keeps, which is the plan and progress every stage works
 * from (saved on the item, so a resumed run starts where the last one was).
 */
import type { Logger } from 'pino'
import type { RowOutcome } from '../../domain/status-file.js'
import type { RemoteFiles } from '../../ports/remote-files.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { ItemRecord, Store } from '../../ports/store.js'
import type { RunEvents } from '../../runs/events.js'

/** What a status file's item keeps in its detail column. */
export interface StatusDetail {
  kind: 'status-file'
  rowsTotal: number
  rowsApplied: number
  rowsRejected: number
  /** Collections calls already made and saved (resume point). */
  chunksDone: number
  /** Rows ready to apply, in call order: index, record id, fields. */
  pending: PendingRow[]
  outcomes: RowOutcome[]
  /** The source file was moved/deleted/kept per after.success (finalPath holds where). */
  disposed?: boolean
  /** Returned documents: row → the item that uploads it. */
  documents: ReturnedDocument[]
  reportPath: string | null
}

export interface PendingRow {
  index: number
  key: string
  recordId: string
  fields: Record<string, unknown>
}

export interface ReturnedDocument {
  index: number
  name: string
  itemId: string | null
  recordId: string
}

export interface StatusContext {
  store: Store
  sf: SalesforceApi
  remote: RemoteFiles
  events: RunEvents
  logger: Logger
  signal: AbortSignal
}

export function statusDetailOf(item: ItemRecord): StatusDetail | null {
  return item.detail?.kind === 'status-file' ? (item.detail as unknown as StatusDetail) : null
}

/** Saves the detail on its item: the resume point of the stages after. */
export async function saveStatusDetail(store: Store, itemId: string, detail: StatusDetail): Promise<void> {
  await store.updateItem(itemId, { detail: detail as unknown as Record<string, unknown> })
}
