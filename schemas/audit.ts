import { Type as T } from '@sinclair/typebox'
import { StringEnum } from './common.js'

const Nullable = <S extends ReturnType<typeof T.String>>(s: S) => T.Union([s, T.Null()])

export const FileOutcome = T.Object(
  {
    time: T.String({ format: 'date-time', description: 'When the outcome was stored.' }),
    flow: T.String(),
    runId: T.String({ description: 'The run, or the export job.' }),
    itemId: T.String(),
    kind: T.Union([StringEnum(['inbound', 'status', 'outbound']), T.Null()], {
      description: 'The flow’s kind; null when the flow is no longer configured.',
    }),
    outcome: StringEnum(['done', 'skipped', 'failed']),
    code: Nullable(
      T.String({
        description: 'Why it failed or was skipped (e.g. NO_MATCHING_RECORD); null when done cleanly.',
      }),
    ),
    message: Nullable(T.String()),
    sourcePath: Nullable(
      T.String({ description: 'Where the file was taken from on the remote server; null for an export.' }),
    ),
    finalPath: Nullable(
      T.String({
        description: 'Where the file ended up: processed or error folder (inbound), delivered path (export).',
      }),
    ),
    object: Nullable(T.String({ description: 'The Salesforce object of the record the file belongs to.' })),
    recordId: Nullable(T.String()),
    sdriveFileId: Nullable(
      T.String({ description: 'The S-Drive file record: created (inbound) or exported (outbound).' }),
    ),
    bytes: T.Integer({ description: 'Bytes moved.' }),
    sha256: Nullable(T.String({ description: 'SHA-256 (hex) of the bytes moved.' })),
    attempts: T.Integer(),
    durationMs: T.Union([T.Integer(), T.Null()], {
      description: 'From the file’s discovery (or the export’s plan) to its outcome.',
    }),
  },
  { $id: 'FileOutcome', title: 'FileOutcome', additionalProperties: false },
)

export const FileOutcomeList = T.Object(
  {
    items: T.Array(T.Ref('FileOutcome')),
    nextCursor: Nullable(
      T.String({ description: 'Pass as cursor for the next page; null on the last page.' }),
    ),
  },
  { $id: 'FileOutcomeList', title: 'FileOutcomeList', additionalProperties: false },
)

export const FILE_OUTCOMES_PAGE_LIMIT = 100

export const ListFileOutcomesQuery = T.Object(
  {
    since: T.Optional(
      T.String({ format: 'date-time', description: 'Only outcomes stored at or after this time.' }),
    ),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000, default: FILE_OUTCOMES_PAGE_LIMIT })),
    cursor: T.Optional(T.String({ maxLength: 200, description: 'The nextCursor of the page before.' })),
  },
  { additionalProperties: false },
)
