/**
 * The polling trigger (flows[].trigger.poll): every `every`, each process
 * runs a tick of each polled flow; the one holding the flow's poll lease
 * queries, claims and creates the jobs (src/flows/outbound/poll-tick.ts).
 * A tick starts only after the previous one ended, so a slow org never
 * piles ticks up.
 */
import type { Logger } from 'pino'
import type { OutboundFlow } from '../../config/schema.js'
import { toBridgeError } from '../../domain/errors.js'
import { parseDuration } from '../../domain/notifications.js'
import type { PollClaimStore } from '../../ports/poll-claims.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import { type PolledFlow, type PollStep, pollTick } from './poll-tick.js'
import type { Submissions } from './submit.js'

export type { PollStep }

export interface PollTriggerDeps {
  flows: Iterable<OutboundFlow>
  sf: SalesforceApi
  claims: PollClaimStore
  submissions: Pick<Submissions, 'submitMany' | 'queuedWork'>
  maxQueuedItems: number
  /** The run leases' owner id: this process. */
  owner: string
  /** store.leaseMs: a dead poller's flow is taken over this long after its next tick was due. */
  leaseMs: number
  logger: Logger
  onStep?: (step: PollStep, flow: string) => void
}

export interface PollTrigger {
  start(): void
  /** Runs one tick of the flow now. */
  tick(flow: string): Promise<void>
  /** Stops the timers, cuts a tick in flight (its open intents wait for the next poller), gives the leases up. */
  close(): Promise<void>
}

const DEFAULT_EVERY_MS = 300_000

export function createPollTrigger(deps: PollTriggerDeps): PollTrigger {
  const flows = new Map<string, PolledFlow>()
  for (const flow of deps.flows) if (flow.trigger?.poll) flows.set(flow.name, flow as PolledFlow)
  const abort = new AbortController()
  const timers = new Map<string, NodeJS.Timeout>()
  const running = new Map<string, Promise<void>>()
  const everyMs = (flow: PolledFlow) => parseDuration(flow.trigger.poll.every) ?? DEFAULT_EVERY_MS
  const context = (flow: PolledFlow) => ({
    ...deps,
    leaseMs: everyMs(flow) + deps.leaseMs,
    signal: abort.signal,
    step: (step: PollStep, name: string) => deps.onStep?.(step, name),
  })

  const tick = async (name: string) => {
    const flow = flows.get(name)
    if (flow && !abort.signal.aborted) await pollTick(context(flow), flow)
  }

  function schedule(name: string, delayMs: number): void {
    if (abort.signal.aborted) return
    const timer = setTimeout(() => {
      const current = tick(name)
        .catch((error: unknown) => {
          const e = toBridgeError(error)
          if (!abort.signal.aborted) {
            deps.logger.warn({ flow: name, code: e.code, err: e.message }, 'poll tick failed')
          }
        })
        .finally(() => {
          running.delete(name)
          const flow = flows.get(name)
          if (flow) schedule(name, everyMs(flow))
        })
      running.set(name, current)
    }, delayMs)
    timer.unref()
    timers.set(name, timer)
  }

  return {
    start() {
      for (const name of flows.keys()) schedule(name, 0)
    },
    tick,
    async close() {
      abort.abort(new Error('poll trigger closed'))
      for (const timer of timers.values()) clearTimeout(timer)
      await Promise.allSettled(running.values())
      await Promise.allSettled([...flows.keys()].map((name) => deps.claims.releaseLease(name, deps.owner)))
    },
  }
}
