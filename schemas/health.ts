import { Type as T } from '@sinclair/typebox'
import { StringEnum } from './common.js'

export const Health = T.Object(
  { status: T.Literal('ok') },
  { $id: 'Health', title: 'Health', additionalProperties: false },
)

/** One wrong name in a flow's configuration, found by describing the org's objects. */
export const ConfigProblem = T.Object(
  {
    path: T.String({ description: 'Key path in the configuration, e.g. flows[2].match[0].pattern' }),
    message: T.String(),
  },
  { $id: 'ConfigProblem', title: 'ConfigProblem', additionalProperties: false },
)

export const MisconfiguredFlow = T.Object(
  {
    flow: T.String(),
    problems: T.Array(T.Ref('ConfigProblem')),
    since: T.String({ format: 'date-time' }),
  },
  { $id: 'MisconfiguredFlow', title: 'MisconfiguredFlow', additionalProperties: false },
)

export const ReadinessChecks = T.Object(
  { store: T.String(), salesforce: T.String() },
  { $id: 'ReadinessChecks', title: 'ReadinessChecks', additionalProperties: false },
)

export const ApiLimitPause = T.Object(
  {
    since: T.String({ format: 'date-time', description: 'When the pause began.' }),
    probes: T.Integer({ description: 'Probe calls made during this pause (one per interval).' }),
    waiting: T.Integer({ description: 'Salesforce calls waiting for the pause to end.' }),
  },
  {
    $id: 'ApiLimitPause',
    title: 'ApiLimitPause',
    additionalProperties: false,
    description:
      'Present while the org is at its Salesforce API limit: every Salesforce call waits (jobs are paused, not failed) until a probe succeeds.',
  },
)

export const Readiness = T.Object(
  {
    status: StringEnum(['ready', 'not_ready'] as const),
    checks: T.Ref('ReadinessChecks'),
    misconfiguredFlows: T.Array(T.Ref('MisconfiguredFlow'), {
      description:
        'Inbound flows whose configuration names an object or field the org does not have (or cannot be read): their runs fail FLOW_MISCONFIGURED without touching a file. The other flows keep running, so this alone does not make the service not ready.',
    }),
    apiLimitPause: T.Optional(T.Ref('ApiLimitPause')),
  },
  { $id: 'Readiness', title: 'Readiness', additionalProperties: false },
)
