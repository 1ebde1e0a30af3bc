/**
 * Export jobs started by Pub/Sub events (trigger.pubsub): per flow, the
 * process that holds the topic's lease subscribes, resuming after the replay
 * id stored with the last job; each event that asks for an export becomes a
 * job as POST /v1/exports makes one, its EventUuid the idempotency key and
 * its replay id stored in the job's transaction. A process that loses the
 * lease (or dies) stops reading; another takes the topic within leaseMs.
 */
import { isDeepStrictEqual } from 'node:util'
import type { Logger } from 'pino'
import type { OutboundFlow } from '../../config/schema.js'
import type { PubSubTrigger } from '../../config/trigger-pubsub-schema.js'
import { isTransient, toBridgeError } from '../../domain/errors.js'
import { pubsubEventKey } from '../../domain/idempotency-keys.js'
import { decideEvent } from '../../domain/pubsub-events.js'
import type { EventSubscriber, StreamEvent, Subscription } from '../../ports/event-subscriber.js'
import type { RunLeaseStore } from '../../ports/run-leases.js'
import type { Store } from '../../ports/store.js'
import type { Submissions } from './submit.js'

export interface PubSubTriggerDeps {
  flows: Iterable<OutboundFlow>
  /** The Pub/Sub client, made on the first subscription (gRPC and Avro load only then). */
  subscriber: () => Promise<EventSubscriber>
  leases: RunLeaseStore
  owner: string
  leaseMs: number
  store: Store
  submit: Submissions['submit']
  logger: Logger
}

export interface PubSubTriggers {
  start(): void
  /**
   * Reads for the flows in force now (after a reload): readers of removed
   * flows and of changed triggers stop (their leases let go), added and
   * changed triggers get new ones; an unchanged trigger keeps its subscription.
   */
  refresh(flows: Iterable<OutboundFlow>): Promise<void>
  close(): Promise<void>
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/** One flow's topic: its lease, and its subscription while the lease is held. */
function topicReader(flow: OutboundFlow, trigger: PubSubTrigger, deps: PubSubTriggerDeps) {
  const stream = `pubsub:${flow.name}:${trigger.topic}`
  const log = deps.logger.child({ flow: flow.name, topic: trigger.topic })
  let subscription: Subscription | null = null
  let holding = false

  /** Stores one event's job; waits while admission is full or the store fails for a moment. */
  async function storeJob(event: StreamEvent, request: ReturnType<typeof decideEvent>): Promise<void> {
    if (request.kind === 'skip') return
    const options = {
      trigger: 'pubsub' as const,
      idempotencyKey: pubsubEventKey(flow.name, event.id || event.replayId),
      checkpoint: { stream, position: event.replayId },
    }
    for (let attempt = 0; ; attempt++) {
      if (!holding) throw new Error('lease lost')
      try {
        await deps.submit(flow.name, request.request, options)
        return
      } catch (error) {
        const bridgeError = toBridgeError(error, 'INTERNAL')
        if (!isTransient(bridgeError)) {
          // A malformed event (no valid record id) will not get better: recorded in the log and passed.
          log.warn(
            { replayId: event.replayId, code: bridgeError.code, err: bridgeError.message },
            'event asks for no valid export; skipped',
          )
          await deps.store.saveCheckpoint({ stream, position: event.replayId })
          return
        }
        await sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)))
      }
    }
  }

  async function handle(events: StreamEvent[]): Promise<void> {
    let unsaved: string | null = null
    for (const event of events) {
      const decision = decideEvent(trigger, event.fields, event.schema)
      if (decision.kind === 'skip') {
        log.debug({ replayId: event.replayId, reason: decision.reason }, 'event skipped')
        unsaved = event.replayId
        continue
      }
      await storeJob(event, decision)
      unsaved = null
    }
    // Events that asked for nothing still move the stream on, so a restart does not read them again.
    if (unsaved) await deps.store.saveCheckpoint({ stream, position: unsaved })
  }

  async function subscribe(): Promise<void> {
    const stored = await deps.store.getCheckpoint(stream)
    log.info({ from: stored ?? trigger.startAt }, 'subscribing: this process holds the topic')
    const subscriber = await deps.subscriber()
    subscription = subscriber.subscribe({
      topic: trigger.topic,
      batchSize: trigger.batchSize,
      start: stored ? { replayId: stored } : { preset: trigger.startAt },
      handle,
    })
  }

  async function unsubscribe(): Promise<void> {
    const current = subscription
    subscription = null
    await current?.stop()
  }

  return {
    /** Takes or keeps the lease; subscribes when it is newly held, stops when it was lost. */
    async tick(): Promise<void> {
      let held = false
      try {
        held = await deps.leases.hold(deps.owner, stream, topicLeaseMs(deps.leaseMs))
      } catch (error) {
        log.warn({ err: error }, 'topic lease could not be renewed')
      }
      if (held && !holding) {
        holding = true
        await subscribe().catch((error: unknown) => {
          // Tried again at the next tick, the lease still held.
          holding = false
          log.warn({ err: toBridgeError(error).message }, 'subscription could not start')
        })
      } else if (!held && holding) {
        log.warn('topic lease lost: another process reads the topic now')
        holding = false
        await unsubscribe()
      }
    },
    async close(): Promise<void> {
      holding = false
      await unsubscribe()
      await deps.leases.letGo(deps.owner, stream).catch(() => {})
    },
  }
}

/**
 * The topic lease is two thirds of leaseMs: it lapses at most that long after the dead reader's
 * last renewal, and a standby takes it at its next tick (a sixth), so the topic has a reader again
 * within leaseMs of the death, subscription set-up aside.
 */
export function topicLeaseMs(leaseMs: number): number {
  return Math.max(100, Math.floor((leaseMs * 2) / 3))
}

/** One flow's reader, with the trigger it reads for (a changed trigger gets a new reader). */
interface FlowReader {
  trigger: PubSubTrigger
  reader: ReturnType<typeof topicReader>
}

function pubsubTriggersOf(flows: Iterable<OutboundFlow>): Map<string, [OutboundFlow, PubSubTrigger]> {
  const triggers = new Map<string, [OutboundFlow, PubSubTrigger]>()
  for (const flow of flows) if (flow.trigger?.pubsub) triggers.set(flow.name, [flow, flow.trigger.pubsub])
  return triggers
}

export function createPubSubTriggers(deps: PubSubTriggerDeps): PubSubTriggers {
  const readers = new Map<string, FlowReader>()
  let started = false
  let closed = false
  let timer: NodeJS.Timeout | null = null
  // Ticks, refreshes and close run one after another: a reader is never closed halfway through subscribing.
  let ticking: Promise<unknown> = Promise.resolve()
  const tick = () => Promise.allSettled([...readers.values()].map((r) => r.reader.tick()))
  const after = (step: () => Promise<unknown>) => {
    ticking = ticking.then(step, step)
    return ticking
  }

  /** Ticks while there are readers: a sixth of leaseMs, so a dead reader is replaced within leaseMs. */
  function followReaders(): void {
    if (started && readers.size > 0 && !timer) {
      // The holder may miss three renewals before its lease lapses; a standby sees the lapse a sixth later.
      timer = setInterval(() => void after(tick), Math.max(50, Math.floor(deps.leaseMs / 6)))
      timer.unref()
    } else if (readers.size === 0 && timer) {
      clearInterval(timer)
      timer = null
    }
  }

  /** Readers for the triggers that have none; true if any was made. */
  function addReaders(next: Map<string, [OutboundFlow, PubSubTrigger]>): boolean {
    let added = false
    for (const [name, [flow, trigger]] of next) {
      if (readers.has(name)) continue
      readers.set(name, { trigger, reader: topicReader(flow, trigger, deps) })
      added = true
    }
    return added
  }

  /** Readers of removed flows and of changed triggers close (lease let go); new ones are made. */
  async function replaceReaders(flows: Iterable<OutboundFlow>): Promise<boolean> {
    const next = pubsubTriggersOf(flows)
    const closing: Promise<void>[] = []
    for (const [name, current] of readers) {
      const wanted = next.get(name)
      if (wanted && isDeepStrictEqual(wanted[1], current.trigger)) continue
      readers.delete(name)
      closing.push(current.reader.close())
    }
    await Promise.allSettled(closing)
    return addReaders(next)
  }

  addReaders(pubsubTriggersOf(deps.flows))
  return {
    start() {
      if (started || closed) return
      started = true
      followReaders()
      if (readers.size > 0) void after(tick)
    },
    async refresh(flows) {
      await after(async () => {
        if (closed) return
        const added = await replaceReaders(flows)
        followReaders()
        // New readers take their topics now, not a timer period later.
        if (added && started) await tick()
      })
    },
    async close() {
      closed = true
      if (timer) clearInterval(timer)
      timer = null
      await after(() => Promise.allSettled([...readers.values()].map((r) => r.reader.close())))
    },
  }
}
