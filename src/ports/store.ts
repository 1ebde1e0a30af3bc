/**
 * Durable state: runs, their per-file items, the exactly-once ledger and
 * idempotency keys. The SQLite adapter is the embedded default; a PostgreSQL
 * adapter implements the same contract (test/contract/store.test.ts).
 */

export const RunStates = [
  'waiting_for_window',
  'queued',
  'running',
  'succeeded',
  'partially_failed',
  'failed',
  'cancelled',
  /** An export that found no S-Drive file to send: finished, nothing delivered. */
  'nothing_to_export',
] as const
export type RunState = (typeof RunStates)[number]

export const ItemStates = ['pending', 'transferring', 'finalizing', 'done', 'failed', 'skipped'] as const
export type ItemState = (typeof ItemStates)[number]

export type RunTrigger = 'api' | 'schedule' | 'retry' | 'startup' | 'outbound-message' | 'pubsub'

export interface RunRecord {
  id: string
  flow: string
  state: RunState
  trigger: RunTrigger
  idempotencyKey: string | null
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  /** Files seen but not taken this time (not ready yet, already processed, excluded). */
  notes: RunNote[]
  error: { code: string; message: string } | null
  /** What was asked for (an export's record ids, file ids, metadata); null for inbound runs. */
  request: Record<string, unknown> | null
  /** A job held for a delivery window does not start before this time. */
  notBefore: string | null
  /** Inbound batch folders that came with an index file, one summary each. */
  batches: RunBatch[]
}

/** One batch folder of an inbound run that came with an index (sidecar) file. */
export interface RunBatch {
  /** The batch folder: the directory its files sit in. */
  folder: string
  /** Where the index was found. */
  indexPath: string
  /** Where the index went once the batch settled (after.success move); null before, or deleted / kept. */
  indexFinalPath: string | null
  /** Data rows of the index. */
  rows: number
  /** Files of the folder the index does not name (NOT_IN_INDEX with index.required). */
  notInIndex: string[]
  /** Index rows whose file is not in the folder (FILE_MISSING). */
  missing: { file: string; row: number }[]
  /** The `<index>.result.csv` written once the batch's files were settled; null before. */
  resultPath: string | null
  /** The result is written and the index disposed of. */
  settled: boolean
}

export interface RunNote {
  path: string
  reason:
    | 'NOT_READY'
    | 'ALREADY_PROCESSED'
    | 'IN_PROGRESS_ELSEWHERE'
    | 'NOT_A_REGULAR_FILE'
    | 'UNREADABLE_FILE_NAME'
    | 'WAITING_FOR_INDEX'
    | 'INDEX_INVALID'
    | 'FILE_MISSING'
  message: string
}

export interface ItemTarget {
  object: string
  recordId: string
  fileObject: string
  parentField: string
  folder: string | null
  description: string | null
  /** Existing S-Drive files this upload replaces (removed only after the new one is confirmed). */
  replaceIds?: string[]
  /** The skip policy found the file already in S-Drive: nothing is uploaded. */
  alreadyInSDrive?: boolean
  /** The S-Drive folder `folder` resolved to, and whether the file was put in it. */
  folderId?: string
  folderApplied?: boolean
  /** Outbound: the S-Drive file being delivered. */
  fileId?: string
  /** Outbound: SHA-256 of the S-Drive file's bytes; the item's sha256 is of the bytes delivered (encrypted, they differ). */
  plaintextSha256?: string
  /** The name to give the file in S-Drive instead of its own (a resubmission keeps the original's). */
  sdriveName?: string
  /** The review this file answers (a resubmission), and whether the review was updated for it. */
  correlationId?: string
  reviewApplied?: boolean
  /** Files this upload makes not-latest (review resubmission policy "version"), flagged once it is confirmed. */
  supersedeIds?: string[]
  /** The versions this file superseded (`existing: version`); kept after they are flagged, for the record. */
  versionOf?: string[]
  /** SHA-256 of the current version, when the bridge uploaded it: the same bytes make no new version. */
  currentSha256?: string
  /** The bytes equal the current version's: no version was made, the item is skipped (UNCHANGED). */
  unchanged?: boolean
  /** target.fields rendered and typed for this file: set on its S-Drive file record once uploaded. */
  fieldValues?: Record<string, string | number | boolean | null>
  /** The fields were written (or there were none to write). */
  fieldsApplied?: boolean
  /**
   * S-Drive was asked for an upload ticket for this file: a WIP record may exist even if its id never
   * reached the store (a crash, a lost answer), so the next try looks for it first.
   */
  uploadRequested?: boolean
  /** Times this file's transfer was cut by a takeover (its process died, stopped or lost the run). */
  interruptions?: number
  /** Atomic batch: every file of its folder was uploaded, so the folder's tidy-up began (no rollback after). */
  batchCommitted?: boolean
  /** Atomic batch: the S-Drive file this upload made, removed again because another file of its folder failed. */
  rolledBackId?: string
  /** Atomic batch: S-Drive refused to remove this upload again; it is left for a person (not tried again). */
  rollbackFailed?: boolean
}

export interface ItemError {
  code: string
  message: string
  /** When this reason was written beside the file in the error folder (`<name>.error.json`). */
  reportedAt?: string
}

export interface ItemRecord {
  id: string
  runId: string
  flow: string
  endpoint: string
  path: string
  name: string
  size: number
  modifiedAt: number
  /** endpoint + path + size + mtime: the exactly-once key. */
  ledgerKey: string
  state: ItemState
  attempts: number
  nextAttemptAt: string | null
  target: ItemTarget | null
  wipFileId: string | null
  sdriveFileId: string | null
  sha256: string | null
  bytesTransferred: number
  /**
   * Bytes moved over the wire to or from the remote server in all attempts,
   * re-sent bytes included; equals `size` for a file moved once without a cut.
   */
  bytesMoved: number
  /** Transfers continued after a cut connection, in all attempts. */
  resumes: number
  /** Where the source file ended up (processed or error directory), if moved. */
  finalPath: string | null
  error: ItemError | null
  /** What a status file did, row by row (status flows); null for file transfers. */
  detail: Record<string, unknown> | null
  createdAt: string
  updatedAt: string
}

export interface NewItem {
  endpoint: string
  path: string
  name: string
  size: number
  modifiedAt: number
  ledgerKey: string
  target: ItemTarget | null
  /** Items that fail planning (no match, ambiguous) are created already failed. */
  state?: ItemState
  error?: { code: string; message: string } | null
}

export type ItemPatch = Partial<
  Pick<
    ItemRecord,
    | 'state'
    | 'attempts'
    | 'nextAttemptAt'
    | 'target'
    | 'wipFileId'
    | 'sdriveFileId'
    | 'sha256'
    | 'bytesTransferred'
    | 'bytesMoved'
    | 'resumes'
    | 'finalPath'
    | 'error'
    | 'detail'
  >
>

export type RunPatch = Partial<
  Pick<RunRecord, 'state' | 'startedAt' | 'finishedAt' | 'notes' | 'error' | 'notBefore' | 'batches'>
>

export interface RunCounts {
  total: number
  pending: number
  transferring: number
  finalizing: number
  done: number
  failed: number
  skipped: number
  bytesDone: number
}

export interface ListRunsQuery {
  flow?: string
  /** Only runs of these flows (e.g. every outbound flow, for the jobs API). */
  flows?: string[]
  state?: RunState
  /** Only runs created at or after this time (ISO 8601). */
  createdFrom?: string
  /** Only runs created before this time (ISO 8601). */
  createdTo?: string
  /** Opaque cursor from a previous page. */
  cursor?: string
  limit: number
}

export interface ListRunItemsQuery {
  /** Only items in this state. */
  state?: ItemState
  /** The `nextCursor` of the page before. */
  cursor?: string
  limit: number
}

export interface RunSizes {
  bytesTotal: number
  /** Of files done, skipped, failed or finalizing: what a progress bar counts as done. */
  bytesFinished: number
}

/** Files that reached an outcome in one hour of one flow (the console's chart). */
export interface OutcomeBucket {
  flow: string
  /** Start of the hour, ISO 8601 UTC. */
  hour: string
  /** Done or skipped. */
  done: number
  failed: number
}

/** A signed-in operator of the console; the session id itself is never stored, only its SHA-256. */
export interface ConsoleSession {
  idHash: string
  createdAt: string
  lastSeenAt: string
  /** Absolute expiry: the session ends then however active it is. */
  expiresAt: string
}

/** The item states that are a file's outcome: what the audit trail lists. */
export const OutcomeStates = ['done', 'skipped', 'failed'] as const satisfies readonly ItemState[]

export interface ListOutcomesQuery {
  /** Only outcomes stored at or after this time (ISO 8601). */
  since?: string
  /** The `nextCursor` of the page before. */
  cursor?: string
  limit: number
}

export interface CreateRunInput {
  flow: string
  trigger: RunTrigger
  idempotencyKey?: string
  /** Hash of the request, so the same key with a different request is a conflict. */
  requestHash?: string
  request?: Record<string, unknown>
  /** Initial state: 'queued' (default) or 'waiting_for_window' with notBefore. */
  state?: 'queued' | 'waiting_for_window'
  notBefore?: string
  /**
   * Where the event stream that asked for this job now stands (a Pub/Sub
   * replay id), written in the job's own transaction, also when the key
   * already had its job: a crash never leaves a job without its position
   * or a position past a job that was not stored.
   */
  checkpoint?: TriggerCheckpoint
}

export interface TriggerCheckpoint {
  /** e.g. `pubsub:<flow>:<topic>` */
  stream: string
  position: string
}

export type CreateRunResult =
  | { outcome: 'created'; run: RunRecord }
  | { outcome: 'existing'; run: RunRecord }
  | { outcome: 'conflict'; run: RunRecord }

export interface AddItemsResult {
  /** Items inserted (their ledger key was free). */
  added: ItemRecord[]
  /** Paths whose ledger key was already taken, with the owning item. */
  duplicates: { item: NewItem; ownerItemId: string; ownerState: ItemState }[]
}

export const ReviewStates = ['rejecting', 'rejected', 'resubmitted', 'failed'] as const
export type ReviewState = (typeof ReviewStates)[number]

/** One resubmission of a rejected file: the inbound item that brought it and the S-Drive file it became. */
export interface Resubmission {
  runId: string
  itemId: string
  fileName: string
  fileId: string | null
  at: string
}

/**
 * A rejection of an S-Drive file back to the partner, keyed by its
 * correlation id: the link between the original file, the rejection and
 * the resubmissions that answer it.
 */
export interface ReviewRecord {
  correlationId: string
  flow: string
  state: ReviewState
  /** The rejected S-Drive file and where it lives. */
  fileId: string
  fileObject: string
  parentField: string
  recordId: string
  /** The reviewed record's sObject, when the flow updates review fields. */
  object: string | null
  originalName: string
  /** The name the file was returned under (holds the correlation id). */
  returnedName: string
  /** Where it was written in the drop zone, once written. */
  returnedPath: string | null
  reasonCode: string
  reason: string
  notify: Record<string, unknown> | null
  /** The review this file was itself the resubmission of, if any. */
  previousCorrelationId: string | null
  resubmissions: Resubmission[]
  attempts: number
  error: { code: string; message: string } | null
  createdAt: string
  updatedAt: string
}

export type NewReview = Omit<
  ReviewRecord,
  'state' | 'returnedPath' | 'resubmissions' | 'attempts' | 'error' | 'createdAt' | 'updatedAt'
>

export type ReviewPatch = Partial<
  Pick<ReviewRecord, 'state' | 'returnedPath' | 'resubmissions' | 'attempts' | 'error'>
>

export interface FindReviewsQuery {
  flow?: string
  states?: ReviewState[]
  fileId?: string
  /** Reviews whose original or returned name is one of these. */
  names?: string[]
}

/** What the ledger knows of a claimed key; a pruned item leaves its final state and record behind. */
export interface LedgerOwner {
  itemId: string
  state: ItemState
  /** The record the file went to (its item's target), kept after the item is pruned. */
  recordId: string | null
}

export const TerminalRunStates = [
  'succeeded',
  'partially_failed',
  'failed',
  'cancelled',
  'nothing_to_export',
] as const

export interface PruneRunsQuery {
  /** Terminal runs that finished (or, never finished, last changed) before this instant go, with their items. */
  finishedBefore: string
  /** …unless they hold an idempotency key created at or after this instant: a key lives as long as its run. */
  keysCreatedBefore: string
  /** Whose runs: only these flows, or every flow but these (export jobs and transfer runs age apart). */
  flows: { only: readonly string[] } | { except: readonly string[] }
  /** At most this many runs in one transaction. */
  limit: number
}

export interface PrunedRuns {
  runs: number
  items: number
  idempotencyKeys: number
  /** Another replica was pruning at that moment, so nothing was done (PostgreSQL; one pruner at a time). */
  busy: boolean
}

export const OutboxStates = ['pending', 'sending', 'sent', 'failed'] as const
export type OutboxState = (typeof OutboxStates)[number]

/** A notification to deliver: written with the event it reports, delivered by the worker. */
export interface NewOutboxMessage {
  /** Unique: the same event for the same channel is written once, however often (or by how many replicas) it is seen. */
  dedupeKey: string
  channel: string
  event: string
  flow: string | null
  runId: string | null
  /** What the channel sends, channel-neutral (see src/notify/compose.ts); never holds a secret. */
  body: Record<string, unknown>
}

export interface OutboxMessage extends NewOutboxMessage {
  id: string
  state: OutboxState
  attempts: number
  /** A pending message is not sent before this time. */
  nextAttemptAt: string
  /** Who is sending it and until when (a lease another worker may take over once it ran out). */
  leaseOwner: string | null
  leaseUntil: string | null
  lastError: { code: string; message: string } | null
  createdAt: string
  sentAt: string | null
}

export interface ClaimOutboxQuery {
  /** The worker's lease owner id. */
  owner: string
  channel: string
  /** At most this many messages. */
  limit: number
  leaseMs: number
}

/** How a delivery attempt ended: sent, to try again (pending at nextAttemptAt), or failed for good. */
export type OutboxSettlement =
  | { state: 'sent' }
  | { state: 'pending'; retryInMs: number; error: { code: string; message: string } }
  | { state: 'failed'; error: { code: string; message: string } }

export interface ListOutboxQuery {
  state?: OutboxState
  channel?: string
  /** The `nextCursor` of the page before. */
  cursor?: string
  limit: number
}

export interface Store {
  /** Creates or updates the schema; safe to call on every start. */
  migrate(): Promise<void>
  createRun(input: CreateRunInput): Promise<CreateRunResult>
  /** The last position stored for an event stream (createRun's checkpoint, or saveCheckpoint's); null before any. */
  getCheckpoint(stream: string): Promise<string | null>
  /** Moves a stream on past events that asked for no job (filtered out), so a restart does not read them again. */
  saveCheckpoint(checkpoint: TriggerCheckpoint): Promise<void>
  getRun(id: string): Promise<RunRecord | null>
  listRuns(query: ListRunsQuery): Promise<{ runs: RunRecord[]; nextCursor: string | null }>
  /** Updates a run; the outbox messages given are written in the same transaction (a run's outcome and its notifications). */
  updateRun(id: string, patch: RunPatch, outbox?: readonly NewOutboxMessage[]): Promise<RunRecord>
  /** Runs in these states (resume after restart). */
  findRuns(states: RunState[]): Promise<RunRecord[]>
  /** How many runs of these flows are in these states (admission and schedule checks, without loading them). */
  countRuns(states: readonly RunState[], flows: readonly string[]): Promise<number>

  /**
   * Inserts items and claims their ledger keys atomically: a key already
   * claimed by any item (any run) is reported as a duplicate, not inserted.
   */
  addItems(runId: string, items: NewItem[]): Promise<AddItemsResult>
  getItem(id: string): Promise<ItemRecord | null>
  listItems(runId: string): Promise<ItemRecord[]>
  /** One page of a run's items in id order, keyset-paged, optionally of one state. */
  listRunItems(
    runId: string,
    query: ListRunItemsQuery,
  ): Promise<{ items: ItemRecord[]; nextCursor: string | null }>
  /** Sizes of a run's files: all of them, and those finished or finalizing (progress without listing items). */
  runSizes(runId: string): Promise<RunSizes>
  /** Outcomes (done and skipped together, failed) per flow and hour since `since`, counted in the index. */
  outcomeHistogram(query: { since: string }): Promise<OutcomeBucket[]>
  updateItem(id: string, patch: ItemPatch): Promise<ItemRecord>
  /** Items in these states across all runs (resume after restart). */
  findItems(states: ItemState[]): Promise<ItemRecord[]>
  /**
   * The audit trail: items in an outcome state (done, skipped, failed) by
   * their last change, then id, ascending; keyset-paged, so a page costs the
   * same on the thousandth page as on the first.
   */
  listFileOutcomes(query: ListOutcomesQuery): Promise<{ items: ItemRecord[]; nextCursor: string | null }>
  /** Who owns these ledger keys, if anyone (dry runs read the ledger without claiming). */
  ledgerOwners(keys: string[]): Promise<Map<string, LedgerOwner>>
  /**
   * SHA-256 of S-Drive files the bridge itself uploaded, by file id (ids it does not know are
   * absent): what tells a re-dropped file with unchanged bytes from a new version.
   */
  uploadDigests(fileIds: string[]): Promise<Map<string, string>>
  /** Frees a failed item's ledger key so the same file can be taken again by a later run. */
  releaseLedger(itemId: string): Promise<void>
  runCounts(runId: string): Promise<RunCounts>
  /** Counts of items in pending/transferring/finalizing across all runs. */
  activeItemCount(): Promise<number>
  /** Records a rejection; a second one for the same flow and file returns the first (unique flow + file). */
  createReview(
    input: NewReview,
    /** Written in the same transaction, only when the review is created. */
    outbox?: readonly NewOutboxMessage[],
  ): Promise<{ outcome: 'created' | 'existing'; review: ReviewRecord }>
  getReview(correlationId: string): Promise<ReviewRecord | null>
  /** Oldest first. */
  findReviews(query: FindReviewsQuery): Promise<ReviewRecord[]>
  updateReview(correlationId: string, patch: ReviewPatch): Promise<ReviewRecord>

  /**
   * Retention: deletes up to `limit` terminal runs matching the query, with
   * their items, leases and idempotency keys. The ledger rows of their items
   * stay (with the item's final state and record), so a pruned file is still
   * recognised as processed. Never touches a run that is not terminal.
   */
  pruneRuns(query: PruneRunsQuery): Promise<PrunedRuns>
  /**
   * Retention: deletes up to `limit` reviews that are closed (resubmitted or
   * failed) and unchanged since `updatedBefore`. A review still awaiting its
   * resubmission (rejecting, rejected) is never pruned.
   */
  pruneReviews(query: { updatedBefore: string; limit: number }): Promise<{ reviews: number; busy: boolean }>

  /** Writes outbox messages; one whose dedupe key exists is left out. Returns how many were written. */
  enqueueOutbox(messages: readonly NewOutboxMessage[]): Promise<number>
  /**
   * Leases up to `limit` of one channel's messages that are due: pending with
   * nextAttemptAt reached, or sending under a lease that ran out (a worker
   * that died). They become sending, owned by `owner`, with attempts + 1.
   * PostgreSQL: FOR UPDATE SKIP LOCKED, so replicas never claim the same row.
   */
  claimOutbox(query: ClaimOutboxQuery): Promise<OutboxMessage[]>
  /** Ends an attempt; false (nothing changed) when `owner` no longer holds the lease. */
  settleOutbox(id: string, owner: string, settlement: OutboxSettlement): Promise<boolean>
  /** The outbox, newest first, keyset-paged. */
  listOutbox(query: ListOutboxQuery): Promise<{ messages: OutboxMessage[]; nextCursor: string | null }>
  /**
   * Milliseconds until the next message of these channels is due (0: now), a
   * pending one's nextAttemptAt or a sending one's lease end; null when none
   * waits. The worker's next wake-up. Times are the store's clock, like every
   * outbox time.
   */
  nextOutboxDue(channels: readonly string[]): Promise<number | null>
  createSession(session: ConsoleSession): Promise<void>
  /**
   * The session if it is live at `now` (seen at or after `idleSince`, expiring after `now`), its
   * last-seen time moved to `now` in the same statement; null when unknown or expired.
   */
  touchSession(idHash: string, at: { now: string; idleSince: string }): Promise<ConsoleSession | null>
  deleteSession(idHash: string): Promise<void>
  /** Deletes sessions idle since before `idleSince` or expired at `now`; returns how many. */
  deleteExpiredSessions(at: { now: string; idleSince: string }): Promise<number>

  /** Ok if the store answers (readiness). */
  ping(): Promise<void>
  close(): Promise<void>
}
