import { Type as T } from '@sinclair/typebox'
import { StringEnum } from './common.js'

export const Health = T.Object(
  { status: T.Literal('ok') },
  { $id: 'Health', title: 'Health', additionalProperties: false },
)

export const Readiness = T.Object(
  {
    status: StringEnum(['ready', 'not_ready'] as const),
    checks: T.Object({ store: T.String(), salesforce: T.String() }, { additionalProperties: false }),
  },
  { $id: 'Readiness', title: 'Readiness', additionalProperties: false },
)
