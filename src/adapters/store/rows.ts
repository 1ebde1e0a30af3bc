/**
 * Row → record mapping shared by the SQLite and PostgreSQL stores. The two
 * differ only in how JSON columns arrive (text to parse, or already decoded
 * JSONB), so that is the one thing each store passes in.
 */
import type { ItemRecord, ItemState, RunRecord } from '../../ports/store.js'

export interface RunRow<J> {
  id: string
  flow: string
  state: string
  trigger: string
  idempotency_key: string | null
  created_at: string
  updated_at: string
  started_at: string | null
  finished_at: string | null
  notes: J
  error: J
  request: J
  not_before: string | null
}

export interface ItemRow<J> {
  id: string
  run_id: string
  flow: string
  endpoint: string
  path: string
  name: string
  size: number
  modified_at: number
  ledger_key: string
  state: string
  attempts: number
  next_attempt_at: string | null
  target: J
  wip_file_id: string | null
  sdrive_file_id: string | null
  sha256: string | null
  bytes_transferred: number
  final_path: string | null
  error: J
  created_at: string
  updated_at: string
}

/** Decodes one JSON column; null stays null. */
export type JsonDecoder<J> = <T>(value: J) => T | null

export function toRunRecord<J>(row: RunRow<J>, json: JsonDecoder<J>): RunRecord {
  return {
    id: row.id,
    flow: row.flow,
    state: row.state as RunRecord['state'],
    trigger: row.trigger as RunRecord['trigger'],
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    notes: json<RunRecord['notes']>(row.notes) ?? [],
    error: json<RunRecord['error']>(row.error),
    request: json<NonNullable<RunRecord['request']>>(row.request),
    notBefore: row.not_before,
  }
}

export function toItemRecord<J>(row: ItemRow<J>, json: JsonDecoder<J>): ItemRecord {
  return {
    id: row.id,
    runId: row.run_id,
    flow: row.flow,
    endpoint: row.endpoint,
    path: row.path,
    name: row.name,
    size: row.size,
    modifiedAt: row.modified_at,
    ledgerKey: row.ledger_key,
    state: row.state as ItemState,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    target: json<ItemRecord['target']>(row.target),
    wipFileId: row.wip_file_id,
    sdriveFileId: row.sdrive_file_id,
    sha256: row.sha256,
    bytesTransferred: row.bytes_transferred,
    finalPath: row.final_path,
    error: json<ItemRecord['error']>(row.error),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}
