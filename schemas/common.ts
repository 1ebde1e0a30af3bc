import { type Static, Type as T } from '@sinclair/typebox'

export const ErrorResponse = T.Object(
  {
    error: T.Object(
      {
        code: T.String({ description: 'Stable machine-readable code, e.g. NOT_FOUND, QUEUE_FULL.' }),
        message: T.String({ description: 'What went wrong, naming the field where there is one.' }),
        details: T.Optional(
          T.Record(T.String(), T.Unknown(), {
            description: 'Facts about the error (a field, an id, a retry delay): a map of any JSON values.',
          }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'ErrorResponse', title: 'ErrorResponse', additionalProperties: false },
)
export type ErrorResponseT = Static<typeof ErrorResponse>

export const ErrorRef = T.Ref('ErrorResponse')

/**
 * A string `enum`, not a union of literals: TypeBox renders unions as `anyOf`
 * of constants, which Salesforce External Services cannot turn into a Flow
 * picklist-like string.
 */
export const StringEnum = <V extends string>(values: readonly V[], options: Record<string, unknown> = {}) =>
  T.Unsafe<V>({ ...options, type: 'string', enum: [...values] })

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
