import { Type as T } from '@sinclair/typebox'

export const FlowSummary = T.Object(
  {
    name: T.String(),
    kind: T.String(),
    description: T.Union([T.String(), T.Null()]),
    endpoint: T.String(),
    directory: T.String(),
    schedule: T.Union([T.String(), T.Null()]),
  },
  { $id: 'FlowSummary', title: 'FlowSummary', additionalProperties: false },
)

export const FlowList = T.Object(
  { flows: T.Array(T.Ref('FlowSummary')) },
  { $id: 'FlowList', title: 'FlowList', additionalProperties: false },
)

export const FlowDetail = T.Object(
  {
    name: T.String(),
    flow: T.Record(T.String(), T.Unknown(), { description: 'The flow as configured.' }),
    endpoint: T.Record(T.String(), T.Unknown(), { description: 'Its source endpoint, secrets redacted.' }),
  },
  { $id: 'FlowDetail', title: 'FlowDetail', additionalProperties: false },
)
