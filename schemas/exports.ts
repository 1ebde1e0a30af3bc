import { Type as T } from '@sinclair/typebox'
import { RunSummaryProperties } from './runs.js'

const RecordId = T.String({
  pattern: '^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$',
  description: '15 or 18 character Salesforce id',
})
const Nullable = <S extends ReturnType<typeof T.String>>(s: S) => T.Union([s, T.Null()])

export const ExportRequestBody = T.Object(
  {
    flow: T.String({ pattern: '^[a-z0-9][a-z0-9-_]*$', maxLength: 64, description: 'Outbound flow name.' }),
    recordIds: T.Optional(
      T.Array(RecordId, { maxItems: 2000, description: 'Records whose S-Drive files the flow selects.' }),
    ),
    fileIds: T.Optional(T.Array(RecordId, { maxItems: 2000, description: 'Specific S-Drive file records.' })),
    metadata: T.Optional(
      T.Array(T.Ref('KeyValue'), {
        description:
          'Free key/value pairs, usable in templates as {metadata.key}; each key at most once. The map form {"key": "value"} is still accepted.',
      }),
    ),
  },
  { $id: 'ExportRequest', title: 'ExportRequest', additionalProperties: false },
)

export const ExportAccepted = T.Object(
  {
    jobId: T.String(),
    statusUrl: T.String(),
    state: T.String({ description: 'queued, or waiting_for_window for flows with a delivery window' }),
    created: T.Boolean({
      description: 'false when an earlier request with the same Idempotency-Key made this job.',
    }),
  },
  { $id: 'ExportAccepted', title: 'ExportAccepted', additionalProperties: false },
)

const jobSummaryProperties = {
  ...RunSummaryProperties,
  notBefore: Nullable(T.String({ format: 'date-time', description: 'Held until this delivery window.' })),
}

export const JobSummary = T.Object(jobSummaryProperties, {
  $id: 'JobSummary',
  title: 'JobSummary',
  additionalProperties: false,
})

export const JobDetail = T.Object(
  {
    ...jobSummaryProperties,
    recordIds: T.Array(T.String()),
    fileIds: T.Array(T.String()),
    counts: T.Ref('RunCounts'),
    notes: T.Array(T.Ref('RunNote')),
    files: T.Array(T.Ref('JobFile')),
  },
  { $id: 'JobDetail', title: 'JobDetail', additionalProperties: false },
)

export const JobFile = T.Object(
  {
    id: T.String(),
    fileId: Nullable(T.String({ description: 'The S-Drive file record.' })),
    recordId: Nullable(T.String()),
    name: T.String({ description: 'Name on the remote server.' }),
    remotePath: T.String(),
    size: T.Integer(),
    state: T.Ref('ItemState'),
    attempts: T.Integer(),
    sha256: Nullable(T.String({ description: 'SHA-256 (hex) of the bytes delivered.' })),
    plaintextSha256: Nullable(
      T.String({
        description:
          'SHA-256 (hex) of the file as S-Drive holds it; differs from sha256 when the flow encrypts (pgp).',
      }),
    ),
    bytesTransferred: T.Integer(),
    bytesMoved: T.Integer({
      description: 'Bytes written to the remote server by all attempts, re-sent bytes included.',
    }),
    resumes: T.Integer({ description: 'Writes continued at the size already on the server after a cut.' }),
    errorCode: Nullable(T.String()),
    errorMessage: Nullable(T.String()),
  },
  { $id: 'JobFile', title: 'JobFile', additionalProperties: false },
)

export const JobList = T.Object(
  { jobs: T.Array(T.Ref('JobSummary')), nextCursor: Nullable(T.String()) },
  { $id: 'JobList', title: 'JobList', additionalProperties: false },
)

export const JobActionResult = T.Object(
  { jobId: T.String(), state: T.String(), retried: T.Integer() },
  { $id: 'JobActionResult', title: 'JobActionResult', additionalProperties: false },
)

export const JobParams = T.Object({
  id: T.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
})

export const ExportHeaders = T.Object({
  'idempotency-key': T.Optional(
    T.String({
      minLength: 1,
      maxLength: 200,
      description: 'Same key + same body → same job; different body → 409.',
    }),
  ),
})

export const OutboundMessageQuery = T.Object({
  secret: T.String({
    minLength: 1,
    maxLength: 200,
    description: 'The flow’s shared secret (Salesforce cannot add headers).',
  }),
})
