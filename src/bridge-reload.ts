/**
 * What a configuration reload starts, stops and rebuilds in a running
 * bridge, once the new flows and endpoints are in force (src/services/
 * live-config.ts): the pools of changed or removed endpoints are retired
 * (closed after the runs that use them), transfer caps follow the new
 * maxConnections, schedules, delivery windows, polls and Pub/Sub
 * subscriptions follow the new flows, and queued work of a removed flow is
 * failed with FLOW_REMOVED.
 */
import type { Logger } from 'pino'
import type { OutboundFlow } from './config/schema.js'
import type { ConfigChanges } from './domain/config-changes.js'
import type { Clock } from './ports/clock.js'
import type { Store } from './ports/store.js'
import type { TransferQueue } from './queue/transfer-queue.js'
import type { LeaseKeeper } from './runs/lease-keeper.js'
import { isActiveItem } from './runs/rounds.js'
import type { LiveConfig } from './services/live-config.js'
import type { ReloadableRemotes } from './services/remote-registry.js'

export interface ReloadTargets {
  live: LiveConfig
  remotes: ReloadableRemotes
  queue: TransferQueue
  store: Store
  leases: LeaseKeeper
  clock: Clock
  logger: Logger
  /** Restarts the cron schedules and delivery windows, when this bridge runs them. */
  restartTimers(): void
  /** Checks the inbound flows against the org again (in the background; never throws). */
  recheckFlows(): void
  /** The polling trigger and the Pub/Sub triggers: each follows the outbound flows in force. */
  triggers: { refresh(flows: Iterable<OutboundFlow>): Promise<void> }[]
}

const removedMessage = (flow: string) =>
  `flow "${flow}" was removed from the configuration by a reload before this work started`

/**
 * Queued runs and jobs (waiting for their window included) of a removed
 * flow would wait forever: each is failed with FLOW_REMOVED, its files not
 * yet delivered skipped. Taking the run's lease first leaves alone any run
 * that is being driven, here or by another replica; those finish.
 */
export async function failQueuedRunsOf(
  flows: readonly string[],
  deps: Pick<ReloadTargets, 'store' | 'leases' | 'clock' | 'logger'>,
): Promise<number> {
  let failed = 0
  for (;;) {
    const claimed = await deps.leases.claim(flows, ['queued', 'waiting_for_window'], { limit: 500 })
    if (claimed.length === 0) return failed
    for (const run of claimed) {
      try {
        const error = { code: 'FLOW_REMOVED', message: removedMessage(run.flow) }
        for (const item of (await deps.store.listItems(run.id)).filter(isActiveItem))
          await deps.store.updateItem(item.id, { state: 'skipped', error })
        await deps.store.updateRun(run.id, {
          state: 'failed',
          finishedAt: new Date(deps.clock.now()).toISOString(),
          error,
        })
        failed++
        deps.logger.warn(
          { run: run.id, flow: run.flow, code: 'FLOW_REMOVED' },
          'queued run of a removed flow failed',
        )
      } finally {
        await deps.leases.release(run.id)
      }
    }
  }
}

export function reloadActions(targets: ReloadTargets): (changes: ConfigChanges) => Promise<void> {
  return async (changes) => {
    const { live } = targets
    targets.remotes.replace(live.endpoints)
    for (const { name } of changes.endpoints.changed) targets.queue.resize(name)
    targets.restartTimers()
    // Awaited: the reload answers once removed flows are polled and read no more.
    await Promise.all(targets.triggers.map((trigger) => trigger.refresh(live.outboundFlows.values())))
    if (changes.flows.removed.length > 0) await failQueuedRunsOf(changes.flows.removed, targets)
    if (changes.flows.added.length + changes.flows.changed.length > 0) targets.recheckFlows()
  }
}
