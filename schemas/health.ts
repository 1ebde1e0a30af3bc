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
    apiLimitPause: T.Optional(
      T.Object(
        {
          since: T.String({ format: 'date-time', description: 'When the pause began.' }),
          probes: T.Integer({ description: 'Probe calls made during this pause (one per interval).' }),
          waiting: T.Integer({ description: 'Salesforce calls waiting for the pause to end.' }),
        },
        {
          additionalProperties: false,
          description:
            'Present while the org is at its Salesforce API limit: every Salesforce call waits (jobs are paused, not failed) until a probe succeeds.',
        },
      ),
    ),
  },
  { $id: 'Readiness', title: 'Readiness', additionalProperties: false },
)
