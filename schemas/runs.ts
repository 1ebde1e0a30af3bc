import { type Static, Type as T } from '@sinclair/typebox'
import {
  ItemStates,
  type ItemState as ItemStateT,
  RunStates,
  type RunState as RunStateT,
} from '../src/ports/store.js'
import { NullableRef, StringEnum } from './common.js'

export const RunState = StringEnum<RunStateT>(RunStates, { $id: 'RunState', title: 'RunState' })
export const ItemState = StringEnum<ItemStateT>(ItemStates, { $id: 'ItemState', title: 'ItemState' })

const Nullable = <S extends ReturnType<typeof T.String>>(s: S) => T.Union([s, T.Null()])

export const RunItem = T.Object(
  {
    id: T.String(),
    path: T.String({ description: 'Where the file was found.' }),
    name: T.String(),
    size: T.Integer(),
    modifiedAt: T.String({ format: 'date-time' }),
    state: T.Ref('ItemState'),
    attempts: T.Integer(),
    nextAttemptAt: Nullable(T.String({ format: 'date-time' })),
    targetObject: Nullable(T.String()),
    targetRecordId: Nullable(T.String()),
    sdriveFileId: Nullable(T.String()),
    versionOf: T.Array(T.String(), {
      description:
        'existing: version — the S-Drive files (the current versions) this file was added as a new version of; empty otherwise.',
    }),
    sha256: Nullable(T.String()),
    bytesTransferred: T.Integer(),
    bytesMoved: T.Integer({
      description: 'Bytes read from the remote server by all attempts, re-read bytes included.',
    }),
    resumes: T.Integer({ description: 'Reads continued at the offset where a cut connection stopped.' }),
    finalPath: Nullable(
      T.String({ description: 'Where the source file is now (processed or error folder).' }),
    ),
    errorCode: Nullable(T.String()),
    errorMessage: Nullable(T.String()),
    statusFile: NullableRef('StatusFileOutcome', {
      description: 'Status flows: what the file did to its records.',
    }),
  },
  { $id: 'RunItem', title: 'RunItem', additionalProperties: false },
)

export const StatusRowOutcome = T.Object(
  {
    row: T.Integer({ description: '1-based data row (the CSV header is row 0).' }),
    key: Nullable(T.String()),
    recordId: Nullable(T.String()),
    outcome: T.String({ description: 'applied or rejected' }),
    code: Nullable(T.String({ description: 'Why it was rejected, e.g. FIELD_NOT_ALLOWED, UNKNOWN_RECORD.' })),
    field: Nullable(T.String()),
    message: Nullable(T.String()),
    documentItemId: Nullable(
      T.String({ description: 'The item uploading the returned document named in the row.' }),
    ),
  },
  { $id: 'StatusRowOutcome', title: 'StatusRowOutcome', additionalProperties: false },
)

export const StatusFileOutcome = T.Object(
  {
    rowsTotal: T.Integer(),
    rowsApplied: T.Integer(),
    rowsRejected: T.Integer(),
    reportPath: Nullable(T.String({ description: 'The error report of rejected rows, beside the file.' })),
    rows: T.Array(T.Ref('StatusRowOutcome'), {
      description: 'Rejected rows and rows with a returned document (at most 1000).',
    }),
  },
  { $id: 'StatusFileOutcome', title: 'StatusFileOutcome', additionalProperties: false },
)

export const RunNote = T.Object(
  {
    path: T.String(),
    reason: T.String({
      description:
        'NOT_READY, ALREADY_PROCESSED, IN_PROGRESS_ELSEWHERE, NOT_A_REGULAR_FILE (a symlink or special file: never followed) or UNREADABLE_FILE_NAME (a name that cannot be read back: a line break, bytes that are not UTF-8, a path separator; the file stays where it is), WAITING_FOR_INDEX (index.required: the batch waits for its index), INDEX_INVALID (the index of the batch cannot be read: the batch stays) or FILE_MISSING (an index row whose file is not in the batch folder)',
    }),
    message: T.String(),
  },
  { $id: 'RunNote', title: 'RunNote', additionalProperties: false },
)

export const MissingIndexRow = T.Object(
  {
    file: T.String({ description: 'The file the index row names.' }),
    row: T.Integer({ description: '1-based data row of the index.' }),
  },
  { $id: 'MissingIndexRow', title: 'MissingIndexRow', additionalProperties: false },
)

export const RunBatch = T.Object(
  {
    folder: T.String({ description: 'The batch folder: the directory its files sat in.' }),
    indexPath: T.String({ description: 'Where its index file was found.' }),
    indexFinalPath: Nullable(
      T.String({ description: 'Where the index went once the batch settled (after.success move).' }),
    ),
    rows: T.Integer({ description: 'Data rows of the index.' }),
    done: T.Integer(),
    failed: T.Integer(),
    skipped: T.Integer(),
    notInIndex: T.Array(T.String(), {
      description: 'Files of the folder the index does not name (NOT_IN_INDEX with index.required).',
    }),
    missing: T.Array(T.Ref('MissingIndexRow'), {
      description: 'Index rows whose file is not in the folder (FILE_MISSING).',
    }),
    resultPath: Nullable(
      T.String({ description: 'The <index>.result.csv: one line per index row and per unindexed file.' }),
    ),
    settled: T.Boolean({ description: 'The result is written and the index disposed of.' }),
  },
  { $id: 'RunBatch', title: 'RunBatch', additionalProperties: false },
)

export const RunCounts = T.Object(
  {
    total: T.Integer(),
    pending: T.Integer(),
    transferring: T.Integer(),
    finalizing: T.Integer(),
    done: T.Integer(),
    failed: T.Integer(),
    skipped: T.Integer(),
    bytesDone: T.Integer(),
    bytesMoved: T.Integer({
      description:
        'Bytes moved over the wire to or from the remote server by all attempts of all files, re-sent bytes included.',
    }),
    resumes: T.Integer({ description: 'Transfers continued after a cut connection (resumable transfers).' }),
  },
  { $id: 'RunCounts', title: 'RunCounts', additionalProperties: false },
)

/** Shared with the jobs schemas: a job is a run of an outbound flow. */
export const RunSummaryProperties = {
  id: T.String(),
  flow: T.String(),
  state: T.Ref('RunState'),
  trigger: T.String(),
  createdAt: T.String({ format: 'date-time' }),
  startedAt: Nullable(T.String({ format: 'date-time' })),
  finishedAt: Nullable(T.String({ format: 'date-time' })),
  errorCode: Nullable(T.String()),
  errorMessage: Nullable(T.String()),
}

export const RunSummary = T.Object(RunSummaryProperties, {
  $id: 'RunSummary',
  title: 'RunSummary',
  additionalProperties: false,
})

export const RunProgress = T.Object(
  {
    filesDone: T.Integer(),
    filesFailed: T.Integer(),
    filesTotal: T.Integer(),
    bytesDone: T.Integer({ description: 'Includes bytes of files still streaming.' }),
    bytesTotal: T.Integer(),
    etaSeconds: T.Union([T.Integer(), T.Null()], {
      description: 'From the rate so far; null until there is one.',
    }),
  },
  { $id: 'RunProgress', title: 'RunProgress', additionalProperties: false },
)

export const RunDetail = T.Object(
  {
    ...RunSummaryProperties,
    progress: T.Ref('RunProgress'),
    counts: T.Ref('RunCounts'),
    notes: T.Array(T.Ref('RunNote')),
    batches: T.Array(T.Ref('RunBatch'), {
      description: 'Inbound batch folders that came with an index file: one summary each.',
    }),
    items: T.Array(T.Ref('RunItem')),
  },
  { $id: 'RunDetail', title: 'RunDetail', additionalProperties: false },
)
export type RunDetailT = Static<typeof RunDetail>

export const RunList = T.Object(
  {
    runs: T.Array(T.Ref('RunSummary')),
    nextCursor: Nullable(
      T.String({ description: 'Pass as cursor for the next page; null on the last page.' }),
    ),
  },
  { $id: 'RunList', title: 'RunList', additionalProperties: false },
)

export const RunAccepted = T.Object(
  {
    runId: T.String(),
    statusUrl: T.String(),
    created: T.Boolean({
      description: 'false when an earlier request with the same Idempotency-Key made this run.',
    }),
  },
  { $id: 'RunAccepted', title: 'RunAccepted', additionalProperties: false },
)

export const RetryAccepted = T.Object(
  { runId: T.String(), retried: T.Integer({ description: 'Failed items put back in the queue.' }) },
  { $id: 'RetryAccepted', title: 'RetryAccepted', additionalProperties: false },
)

export const PlannedFile = T.Object(
  {
    path: T.String(),
    size: T.Integer(),
    action: T.String({
      description:
        'upload, skip, replace, duplicate, version, unchanged, resubmission, fail, wait, already-processed or missing (an index row whose file is not there)',
    }),
    targetObject: Nullable(T.String()),
    targetRecordId: Nullable(T.String()),
    fileObject: Nullable(T.String()),
    reason: Nullable(T.String()),
    code: Nullable(T.String()),
  },
  { $id: 'PlannedFile', title: 'PlannedFile', additionalProperties: false },
)

export const PlannedAtomicBatch = T.Object(
  {
    folder: T.String({ description: 'The batch folder on the server.' }),
    files: T.Integer({ description: 'Files a run would take from it now.' }),
    failing: T.Integer({ description: 'Of these, planned to fail.' }),
    outcome: StringEnum(['upload', 'abort'] as const, {
      description: 'abort: a file is planned to fail, so the whole folder would be undone.',
    }),
  },
  { $id: 'PlannedAtomicBatch', title: 'PlannedAtomicBatch', additionalProperties: false },
)

export const PlannedBatch = T.Object(
  {
    folder: T.String(),
    index: Nullable(T.String({ description: 'The index file found; null: none there.' })),
    code: Nullable(
      T.String({
        description:
          'INDEX_INVALID (its index cannot be read) or WAITING_FOR_INDEX (index.required, none there): the batch stays; null: it would be taken.',
      }),
    ),
    rows: T.Integer(),
    notInIndex: T.Array(T.String(), { description: 'Files the index does not name (NOT_IN_INDEX).' }),
    missing: T.Array(T.String(), { description: 'Files the index names that are not there (FILE_MISSING).' }),
  },
  { $id: 'PlannedBatch', title: 'PlannedBatch', additionalProperties: false },
)

export const DryRunPlan = T.Object(
  {
    flow: T.String(),
    dryRun: T.Boolean(),
    files: T.Array(T.Ref('PlannedFile')),
    atomicBatches: T.Optional(
      T.Array(T.Ref('PlannedAtomicBatch'), {
        description:
          'Flows with batch.atomic only: the files of one folder go together; per folder what a run would do.',
      }),
    ),
    batches: T.Array(T.Ref('PlannedBatch'), {
      description: 'Batch folders with an index, or waiting for one (flows with an index setting).',
    }),
  },
  { $id: 'DryRunPlan', title: 'DryRunPlan', additionalProperties: false },
)

export const RunParams = T.Object({
  id: T.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
})

export const StartRunQuery = T.Object(
  {
    dryRun: T.Optional(
      T.Boolean({ default: false, description: 'Plan only: list what would happen, change nothing.' }),
    ),
  },
  { additionalProperties: false },
)

export const StartRunHeaders = T.Object({
  'idempotency-key': T.Optional(
    T.String({
      minLength: 1,
      maxLength: 200,
      description: 'Same key → same run; with a different request → 409.',
    }),
  ),
})

/** Optional in the document (Flow makes every required input mandatory); validation fills it in. */
export const RUNS_PAGE_LIMIT = 50

export const ListRunsQuery = T.Object(
  {
    flow: T.Optional(T.String({ maxLength: 64 })),
    state: T.Optional(StringEnum<RunStateT>(RunStates)),
    cursor: T.Optional(T.String({ maxLength: 200 })),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: 200, default: RUNS_PAGE_LIMIT })),
  },
  { additionalProperties: false },
)
