/**
 * Row → record mapping shared by the SQLite and PostgreSQL stores. The two
 * differ only in how JSON columns arrive (text to parse, or already decoded
 * JSONB), so that is the one thing each store passes in.
 */
import type {
  ConsoleSession,
  ItemRecord,
  ItemState,
  OutboxMessage,
  OutboxState,
  ReviewRecord,
  ReviewState,
  RunRecord,
} from '../../ports/store.js'

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
  /** Absent on a database not yet migrated to 011. */
  batches?: J
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
  /** Absent before migration 013. */
  bytes_moved?: number
  resumes?: number
  final_path: string | null
  error: J
  detail: J
  created_at: string
  updated_at: string
}

export interface ReviewRow<J> {
  correlation_id: string
  flow: string
  file_id: string
  state: string
  original_name: string
  returned_name: string
  data: J
  created_at: string
  updated_at: string
}

/** The review fields kept in the data JSON column (everything not needed in a WHERE). */
export type ReviewData = Omit<
  ReviewRecord,
  'correlationId' | 'flow' | 'fileId' | 'state' | 'originalName' | 'returnedName' | 'createdAt' | 'updatedAt'
>

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
    batches: row.batches === undefined ? [] : (json<RunRecord['batches']>(row.batches) ?? []),
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
    bytesMoved: row.bytes_moved ?? 0,
    resumes: row.resumes ?? 0,
    finalPath: row.final_path,
    error: json<ItemRecord['error']>(row.error),
    // Absent on a database not yet migrated to 003 (read by an older migration set).
    detail: row.detail === undefined ? null : json<NonNullable<ItemRecord['detail']>>(row.detail),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

export function toReviewRecord<J>(row: ReviewRow<J>, json: JsonDecoder<J>): ReviewRecord {
  const data = json<Partial<ReviewData>>(row.data) ?? {}
  return {
    correlationId: row.correlation_id,
    flow: row.flow,
    state: row.state as ReviewState,
    fileId: row.file_id,
    fileObject: data.fileObject ?? '',
    parentField: data.parentField ?? '',
    recordId: data.recordId ?? '',
    object: data.object ?? null,
    originalName: row.original_name,
    returnedName: row.returned_name,
    returnedPath: data.returnedPath ?? null,
    reasonCode: data.reasonCode ?? '',
    reason: data.reason ?? '',
    notify: data.notify ?? null,
    previousCorrelationId: data.previousCorrelationId ?? null,
    resubmissions: data.resubmissions ?? [],
    attempts: data.attempts ?? 0,
    error: data.error ?? null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** Splits a new review into its columns and its data JSON. */
export function reviewDataOf(
  input: {
    [K in keyof ReviewData]?: ReviewData[K]
  },
): Partial<ReviewData> {
  const data: Partial<ReviewData> = {}
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined) (data as Record<string, unknown>)[key] = value
  }
  return data
}

export interface OutboxRow<J> {
  id: string
  dedupe_key: string
  channel: string
  event: string
  flow: string | null
  run_id: string | null
  body: J
  state: string
  attempts: number
  next_attempt_at: string
  lease_owner: string | null
  lease_until: string | null
  last_error: J
  created_at: string
  sent_at: string | null
}

export function toOutboxRecord<J>(row: OutboxRow<J>, json: JsonDecoder<J>): OutboxMessage {
  return {
    id: row.id,
    dedupeKey: row.dedupe_key,
    channel: row.channel,
    event: row.event,
    flow: row.flow,
    runId: row.run_id,
    body: json<Record<string, unknown>>(row.body) ?? {},
    state: row.state as OutboxState,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    lastError: json<OutboxMessage['lastError']>(row.last_error),
    createdAt: row.created_at,
    sentAt: row.sent_at,
  }
}

/** A console session as both stores keep it (times as ISO text). */
export interface SessionRow {
  id_hash: string
  created_at: string
  last_seen_at: string
  expires_at: string
}

export const toSession = (row: SessionRow): ConsoleSession => ({
  idHash: row.id_hash,
  createdAt: row.created_at,
  lastSeenAt: row.last_seen_at,
  expiresAt: row.expires_at,
})
