/** The inbound flow a rejection belongs to, which must have a review configuration. */
import type { InboundFlow, ReviewConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'

export type ReviewFlow = InboundFlow & { review: ReviewConfig }

export function reviewFlowOf(flows: ReadonlyMap<string, InboundFlow>, name: string): ReviewFlow {
  const flow = flows.get(name)
  if (!flow) {
    throw new BridgeError('NOT_FOUND', `inbound flow "${name}" is not configured`, {
      details: { flow: name },
    })
  }
  if (!flow.review) {
    throw new BridgeError(
      'VALIDATION_FAILED',
      `flow "${name}" has no review configuration (flows[].review)`,
      {
        details: { field: 'flow' },
      },
    )
  }
  return flow as ReviewFlow
}
