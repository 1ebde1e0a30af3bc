/** What the outbound stages work with: the ports, the clock, the log and the run event stream. */
import type { Logger } from 'pino'
import type { EndpointConfig } from '../../config/schema.js'
import type { Clock } from '../../ports/clock.js'
import type { RemoteRegistry } from '../../ports/remote-files.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { SDrive } from '../../ports/sdrive.js'
import type { Store } from '../../ports/store.js'
import type { TransferQueue } from '../../queue/transfer-queue.js'
import type { RunEvents } from '../../runs/events.js'

export interface OutboundDeps {
  endpoints: ReadonlyMap<string, EndpointConfig>
  store: Store
  remotes: RemoteRegistry
  sf: SalesforceApi
  sdrive: SDrive
  queue: TransferQueue
  clock: Clock
  logger: Logger
  /** Faults, files finished and transfer times are reported here, not to metrics directly. */
  events: RunEvents
}
