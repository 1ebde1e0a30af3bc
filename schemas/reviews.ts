import { Type as T } from '@sinclair/typebox'
import { NullableRef, StringEnum } from './common.js'

const Nullable = <S extends ReturnType<typeof T.String>>(s: S) => T.Union([s, T.Null()])

export const RejectionRequestBody = T.Object(
  {
    fileId: T.String({
      pattern: '^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$',
      description: 'The S-Drive file record being rejected (15 or 18 characters).',
    }),
    reasonCode: T.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[A-Za-z0-9_.-]+$',
      description: 'Machine-readable reason, e.g. RESOLUTION_TOO_LOW.',
    }),
    reason: T.String({
      minLength: 1,
      maxLength: 4000,
      description: 'What the partner must correct, for people.',
    }),
    notify: T.Optional(
      T.Array(T.Ref('KeyValue'), {
        description:
          'Free key/value pairs kept with the rejection (who to tell, a case number); each key at most once. The map form {"key": "value"} is still accepted.',
      }),
    ),
  },
  { $id: 'RejectionRequest', title: 'RejectionRequest', additionalProperties: false },
)

export const ResubmissionView = T.Object(
  {
    runId: T.String({ description: 'The inbound run that received the corrected file.' }),
    itemId: T.String(),
    fileName: T.String({ description: 'Name the partner uploaded it under.' }),
    fileId: Nullable(T.String({ description: 'The S-Drive file it became.' })),
    at: T.String({ format: 'date-time' }),
  },
  { $id: 'Resubmission', title: 'Resubmission', additionalProperties: false },
)

export const RejectionView = T.Object(
  {
    correlationId: T.String({
      description: 'Links the original file, this rejection and its resubmissions.',
    }),
    flow: T.String(),
    state: StringEnum(['rejecting', 'rejected', 'resubmitted', 'failed'], {
      description:
        'rejecting: being written to the drop zone; rejected: waiting for the correction; resubmitted: a corrected file arrived; failed: could not be returned (see error).',
    }),
    fileId: T.String({ description: 'The rejected S-Drive file.' }),
    recordId: T.String(),
    originalName: T.String(),
    returnedName: T.String({ description: 'The name it was returned under (holds the correlation id).' }),
    returnedPath: Nullable(T.String({ description: 'Where it is in the drop zone, once written.' })),
    reasonCode: T.String(),
    reason: T.String(),
    previousCorrelationId: Nullable(
      T.String({ description: 'The rejection this file was itself the resubmission of.' }),
    ),
    resubmissions: T.Array(T.Ref('Resubmission')),
    statusUrl: T.String(),
    error: NullableRef('ErrorInfo'),
    createdAt: T.String({ format: 'date-time' }),
    updatedAt: T.String({ format: 'date-time' }),
  },
  { $id: 'Rejection', title: 'Rejection', additionalProperties: false },
)

export const RejectionList = T.Object(
  { rejections: T.Array(T.Ref('Rejection')) },
  { $id: 'RejectionList', title: 'RejectionList', additionalProperties: false },
)

export const RejectionParams = T.Object({
  flow: T.String({ pattern: '^[a-z0-9][a-z0-9-_]*$', maxLength: 64, description: 'Inbound flow name.' }),
  correlationId: T.String({ pattern: '^rv-[0-9a-z]{10}$', description: 'Correlation id of the rejection.' }),
})
