import { type Static, Type as T } from '@sinclair/typebox'

export const ErrorResponse = T.Object(
  {
    error: T.Object(
      {
        code: T.String({ description: 'Stable machine-readable code, e.g. NOT_FOUND, QUEUE_FULL.' }),
        message: T.String({ description: 'What went wrong, naming the field where there is one.' }),
        details: T.Optional(T.Record(T.String(), T.Unknown())),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'ErrorResponse', title: 'ErrorResponse', additionalProperties: false },
)
export type ErrorResponseT = Static<typeof ErrorResponse>

export const ErrorRef = T.Ref('ErrorResponse')

export const ErrorInfo = T.Object(
  { code: T.String(), message: T.String() },
  { $id: 'ErrorInfo', title: 'ErrorInfo', additionalProperties: false },
)

export const FlowParams = T.Object({
  flow: T.String({
    pattern: '^[a-z0-9][a-z0-9-_]*$',
    maxLength: 64,
    description: 'Flow name from the configuration.',
  }),
})

export const AuthHeaders = T.Object({
  authorization: T.Optional(T.String({ description: 'Bearer <API key>' })),
})
