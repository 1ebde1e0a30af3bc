/** What the outbound stages work with: the shared flow services and the transfer queue. */
import type { TransferServices } from '../flow-services.js'

export type OutboundDeps = TransferServices
