/**
 * What every flow kind's stages work with: the configured endpoints, the
 * ports (store, remote servers, Salesforce, S-Drive), the clock, the log
 * and the run event stream they report to (never metrics directly).
 */
import type { Logger } from 'pino'
import type { EndpointConfig } from '../config/schema.js'
import type { Clock } from '../ports/clock.js'
import type { NotificationOutbox } from '../ports/outbox.js'
import type { RemoteRegistry } from '../ports/remote-files.js'
import type { SalesforceApi } from '../ports/salesforce.js'
import type { SDrive } from '../ports/sdrive.js'
import type { Store } from '../ports/store.js'
import type { TransferQueue } from '../queue/transfer-queue.js'
import type { RunEvents } from '../runs/events.js'

export interface FlowServices {
  endpoints: ReadonlyMap<string, EndpointConfig>
  store: Store
  remotes: RemoteRegistry
  sf: SalesforceApi
  sdrive: SDrive
  clock: Clock
  logger: Logger
  events: RunEvents
  /** The notifications events bring, written with them (absent: none configured, as in most tests). */
  outbox?: NotificationOutbox
}

/** Flows that move bytes also share the transfer queue (its caps are per process and per endpoint). */
export interface TransferServices extends FlowServices {
  queue: TransferQueue
}

/**
 * Runs one run's work with the endpoints and pools in force when it
 * started: a reload that changes an endpoint meanwhile applies from the
 * next run, and the old pool closes only after this one let go of it.
 */
export async function withRunServices<S extends FlowServices, T>(
  services: S,
  work: (services: S) => Promise<T>,
): Promise<T> {
  const pinned = services.remotes.pin?.()
  if (!pinned) return work(services)
  try {
    return await work({ ...services, remotes: pinned.remotes, endpoints: pinned.endpoints })
  } finally {
    pinned.release()
  }
}
