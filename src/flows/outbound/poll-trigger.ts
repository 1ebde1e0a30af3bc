/**
 * The polling trigger (flows[].trigger.poll): every `every`, each process
 * runs a tick of each polled flow; the one holding the flow's poll lease
 * queries, claims and creates the jobs (src/flows/outbound/poll-tick.ts).
 * A tick starts only after the previous one ended, so a slow org never
 * piles ticks up. A reload hands over the flows in force (refresh): added
 * ones start polling, removed ones stop, changed ones poll with their new
 * settings from their next tick.
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
  /**
   * Polls the flows in force now (after a reload). Settles once the ticks
   * of removed flows have stopped and their leases are given up.
   */
  refresh(flows: Iterable<OutboundFlow>): Promise<void>
  /** Runs one tick of the flow now. */
  tick(flow: string): Promise<void>
  /** Stops the timers, cuts a tick in flight (its open intents wait for the next poller), gives the leases up. */
  close(): Promise<void>
}

/** One polled flow: the settings its next tick uses, and its timer or its tick in flight. */
interface Polling {
  flow: PolledFlow
  timer: NodeJS.Timeout | null
  running: Promise<void> | null
  /** Cuts this flow's tick alone (the flow was removed by a reload). */
  stop: AbortController
  /** performance.now() when the last tick ended: the next one is due `every` after it. */
  endedAt: number
}

const DEFAULT_EVERY_MS = 300_000

const everyMs = (flow: PolledFlow) => parseDuration(flow.trigger.poll.every) ?? DEFAULT_EVERY_MS

function polledFlows(flows: Iterable<OutboundFlow>): Map<string, PolledFlow> {
  const polled = new Map<string, PolledFlow>()
  for (const flow of flows) if (flow.trigger?.poll) polled.set(flow.name, flow as PolledFlow)
  return polled
}

export function createPollTrigger(deps: PollTriggerDeps): PollTrigger {
  const polled = new Map<string, Polling>()
  const abort = new AbortController()
  let started = false
  const context = (entry: Polling) => ({
    ...deps,
    leaseMs: everyMs(entry.flow) + deps.leaseMs,
    signal: AbortSignal.any([abort.signal, entry.stop.signal]),
    step: (step: PollStep, name: string) => deps.onStep?.(step, name),
  })
  const add = (flow: PolledFlow) => {
    const entry: Polling = { flow, timer: null, running: null, stop: new AbortController(), endedAt: 0 }
    polled.set(flow.name, entry)
    return entry
  }

  const tickOf = async (entry: Polling) => {
    if (!abort.signal.aborted && !entry.stop.signal.aborted) await pollTick(context(entry), entry.flow)
  }

  function runTick(entry: Polling): void {
    const name = entry.flow.name
    entry.timer = null
    entry.running = tickOf(entry)
      .catch((error: unknown) => {
        const e = toBridgeError(error)
        if (!abort.signal.aborted && !entry.stop.signal.aborted) {
          deps.logger.warn({ flow: name, code: e.code, err: e.message }, 'poll tick failed')
        }
      })
      .finally(() => {
        entry.running = null
        entry.endedAt = performance.now()
        if (polled.get(name) === entry) schedule(entry, everyMs(entry.flow))
      })
  }

  function schedule(entry: Polling, delayMs: number): void {
    if (abort.signal.aborted) return
    if (entry.timer) clearTimeout(entry.timer)
    entry.timer = setTimeout(() => runTick(entry), delayMs)
    entry.timer.unref()
  }

  /** A removed flow: no further tick, the one in flight cut (its open intents wait for the flow to return). */
  async function stopPolling(entry: Polling): Promise<void> {
    const name = entry.flow.name
    polled.delete(name)
    if (entry.timer) clearTimeout(entry.timer)
    entry.timer = null
    entry.stop.abort(new Error(`flow "${name}" no longer polled`))
    await entry.running
    await deps.claims.releaseLease(name, deps.owner).catch((error: unknown) => {
      deps.logger.warn({ flow: name, err: toBridgeError(error).message }, 'poll lease not released')
    })
    deps.logger.info({ flow: name }, 'poll: stopped (the flow is no longer polled)')
  }

  /** A changed flow: its next tick reads the new settings; a new `every` counts from the last tick's end. */
  function update(entry: Polling, flow: PolledFlow): void {
    const before = everyMs(entry.flow)
    entry.flow = flow
    const every = everyMs(flow)
    if (entry.timer && every !== before) {
      schedule(entry, Math.max(0, entry.endedAt + every - performance.now()))
    }
  }

  for (const flow of polledFlows(deps.flows).values()) add(flow)

  return {
    start() {
      started = true
      for (const entry of polled.values()) schedule(entry, 0)
    },
    async refresh(flows) {
      const next = polledFlows(flows)
      const removed = [...polled.values()].filter((entry) => !next.has(entry.flow.name))
      const stopped = Promise.all(removed.map(stopPolling))
      for (const flow of next.values()) {
        const entry = polled.get(flow.name)
        if (entry) update(entry, flow)
        else {
          const added = add(flow)
          if (started) schedule(added, 0)
        }
      }
      await stopped
    },
    tick: async (name) => {
      const entry = polled.get(name)
      if (entry) await tickOf(entry)
    },
    async close() {
      abort.abort(new Error('poll trigger closed'))
      for (const entry of polled.values()) if (entry.timer) clearTimeout(entry.timer)
      await Promise.allSettled([...polled.values()].map((entry) => entry.running))
      await Promise.allSettled([...polled.keys()].map((name) => deps.claims.releaseLease(name, deps.owner)))
    },
  }
}
