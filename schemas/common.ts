import { type Static, Type as T } from '@sinclair/typebox'

/** A named component (not inline) so External Services gives Flow one reusable error type. */
export const ErrorDetail = T.Object(
  {
    code: T.String({ description: 'Stable machine-readable code, e.g. NOT_FOUND, QUEUE_FULL.' }),
    message: T.String({ description: 'What went wrong, naming the field where there is one.' }),
    details: T.Optional(
      T.Record(T.String(), T.Unknown(), {
        description: 'Facts about the error (a field, an id, a retry delay): a map of any JSON values.',
      }),
    ),
  },
  { $id: 'ErrorDetail', title: 'ErrorDetail', additionalProperties: false },
)

export const ErrorResponse = T.Object(
  { error: T.Ref(ErrorDetail) },
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

/**
 * A named component or null. TypeBox writes `Union([Ref, Null])`, which the
 * OpenAPI document shows as `anyOf` with `enum: [null]`, both unusable in Flow
 * Builder; `allOf` + `nullable` is the OpenAPI 3.0 form External Services reads.
 * `type: 'object'` is there because Ajv (inside fast-json-stringify) refuses
 * `nullable` without a type. Used only in responses, which are serialised,
 * not validated.
 */
export const NullableRef = (id: string, options: Record<string, unknown> = {}) =>
  T.Unsafe<unknown>({ ...options, type: 'object', allOf: [{ $ref: id }], nullable: true })

/**
 * One entry of a key/value list. Request bodies take lists of these instead
 * of maps: External Services cannot offer a map-typed input in Flow Builder.
 */
export const KeyValue = T.Object(
  {
    key: T.String({ pattern: '^[A-Za-z0-9_]{1,64}$', description: 'Letters, digits and _; at most 64.' }),
    value: T.String({ maxLength: 1000 }),
  },
  { $id: 'KeyValue', title: 'KeyValue', additionalProperties: false },
)

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
