/** What the review stages work with: the ports, the clock, the log and the run event stream. */
import type { Logger } from 'pino'
import type { EndpointConfig, InboundFlow } from '../../config/schema.js'
import type { Clock } from '../../ports/clock.js'
import type { RemoteRegistry } from '../../ports/remote-files.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { SDrive } from '../../ports/sdrive.js'
import type { Store } from '../../ports/store.js'
import type { RunEvents } from '../../runs/events.js'

export interface ReviewDeps {
  flows: ReadonlyMap<string, InboundFlow>
  endpoints: ReadonlyMap<string, EndpointConfig>
  store: Store
  remotes: RemoteRegistry
  sf: SalesforceApi
  sdrive: SDrive
  clock: Clock
  logger: Logger
  /** Review steps and faults are reported here, not to metrics directly. */
  events: RunEvents
}
