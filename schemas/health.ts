import { Type as T } from '@sinclair/typebox'

export const Health = T.Object(
  { status: T.Literal('ok') },
  { $id: 'Health', title: 'Health', additionalProperties: false },
)

export const Readiness = T.Object(
  {
    status: T.Union([T.Literal('ready'), T.Literal('not_ready')]),
    checks: T.Object({ store: T.String(), salesforce: T.String() }, { additionalProperties: false }),
  },
  { $id: 'Readiness', title: 'Readiness', additionalProperties: false },
)
