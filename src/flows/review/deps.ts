/** What the review stages work with: the shared flow services and the inbound flows with a review. */
import type { InboundFlow } from '../../config/schema.js'
import type { FlowServices } from '../flow-services.js'

export interface ReviewDeps extends FlowServices {
  flows: ReadonlyMap<string, InboundFlow>
}
