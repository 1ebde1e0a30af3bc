/**
 * The delivery worker: claims due outbox messages channel by channel (a
 * lease, so a replica or a restart never sends one twice while it is in
 * flight), within each channel's rate limit, delivers them and settles
 * them: sent; pending again with backoff on a transient fault; failed on a
 * permanent one or after maxAttempts. Woken at once by new messages of this
 * process, and every pollIntervalMs for those of other replicas and retries.
 */
import type { Logger } from 'pino'
import type { NotificationsConfig } from '../config/schema.js'
import { backoffDelay } from '../domain/backoff.js'
import { isTransient, toBridgeError } from '../domain/errors.js'
import type { Clock } from '../ports/clock.js'
import type { SalesforceApi } from '../ports/salesforce.js'
import type { OutboxMessage, OutboxSettlement, Store } from '../ports/store.js'
import { type ChannelLimits, channelLimits, deliver } from './channels/index.js'
import { nextSlotInMs, roomAt, withinWindow } from './rate-limit.js'

export interface DeliveryWorkerDeps {
  config: NotificationsConfig
  store: Store
  sf: SalesforceApi
  clock: Clock
  logger: Logger
  /** This process's lease owner id. */
  owner: string
  random?: () => number
}

export interface DeliveryWorker {
  start(): void
  /** New messages were written: look now instead of at the next poll. */
  wake(): void
  /** Stops claiming and waits for deliveries in flight (each bounded by its channel's timeout). */
  close(): Promise<void>
}

/** A lease outlives the delivery's deadline, so a live worker never loses a message it is sending. */
const leaseMsOf = (limits: ChannelLimits) => limits.timeoutMs * 2 + 30_000

function settlementOf(deps: DeliveryWorkerDeps, message: OutboxMessage, error: unknown): OutboxSettlement {
  const e = toBridgeError(error)
  const reason = { code: e.code, message: e.message }
  if (!isTransient(e) || message.attempts >= deps.config.maxAttempts)
    return { state: 'failed', error: reason }
  const options = { baseMs: deps.config.retryBaseMs, maxMs: deps.config.retryMaxMs }
  // At least half the base delay: full jitter alone may draw 0 and retry a struggling receiver at once.
  const delay = Math.max(options.baseMs / 2, backoffDelay(message.attempts - 1, options, deps.random))
  return { state: 'pending', retryInMs: Math.round(delay), error: reason }
}

async function attempt(deps: DeliveryWorkerDeps, message: OutboxMessage, signal: AbortSignal): Promise<void> {
  const log = { id: message.id, channel: message.channel, event: message.event, attempt: message.attempts }
  let settlement: OutboxSettlement
  try {
    await deliver({ config: deps.config, sf: deps.sf, now: () => deps.clock.now() }, message, signal)
    settlement = { state: 'sent' }
  } catch (error) {
    settlement = settlementOf(deps, message, error)
  }
  const kept = await deps.store.settleOutbox(message.id, deps.owner, settlement)
  if (!kept) deps.logger.warn(log, 'notification lease lost before it was settled')
  else if (settlement.state === 'sent') deps.logger.info(log, 'notification sent')
  else
    deps.logger.warn(
      { ...log, state: settlement.state, code: settlement.error.code, err: settlement.error.message },
      'notification not delivered',
    )
}

export function createDeliveryWorker(deps: DeliveryWorkerDeps): DeliveryWorker {
  const channels = channelLimits(deps.config)
  const sent = new Map<string, number[]>([...channels.keys()].map((name) => [name, []]))
  const stop = new AbortController()
  // Deliveries in flight finish on close (drain); their channel's deadline bounds them, not the stop.
  const inFlight = new AbortController().signal
  let woken = false
  let wakeUp: (() => void) | null = null
  let loop: Promise<void> | null = null

  function pause(ms: number): Promise<void> {
    if (woken || stop.signal.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        wakeUp = null
        resolve()
      }
      wakeUp = done
    })
  }

  /** One pass over the channels; returns how long to wait before the next. */
  async function pass(): Promise<number> {
    let waitMs = deps.config.pollIntervalMs
    const open: string[] = []
    const claimed: OutboxMessage[] = []
    for (const [channel, limits] of channels) {
      const now = deps.clock.now()
      const times = withinWindow(sent.get(channel) ?? [], now)
      sent.set(channel, times)
      const room = roomAt(times, now, limits.perMinute)
      if (room === 0) {
        waitMs = Math.min(waitMs, Math.max(1, nextSlotInMs(times, now, limits.perMinute)))
        continue
      }
      open.push(channel)
      const batch = await deps.store.claimOutbox({
        owner: deps.owner,
        channel,
        limit: room,
        leaseMs: leaseMsOf(limits),
      })
      for (const _ of batch) times.push(now)
      claimed.push(...batch)
    }
    await Promise.all(claimed.map((m) => attempt(deps, m, inFlight)))
    if (claimed.length > 0) return 0
    const due = await deps.store.nextOutboxDue(open)
    return due === null ? waitMs : Math.min(waitMs, Math.max(1, due))
  }

  async function run(): Promise<void> {
    while (!stop.signal.aborted) {
      woken = false
      let waitMs = deps.config.pollIntervalMs
      try {
        waitMs = await pass()
      } catch (error) {
        deps.logger.warn({ err: toBridgeError(error).message }, 'notification delivery pass failed')
      }
      if (waitMs > 0) await pause(waitMs)
    }
  }

  return {
    start() {
      loop ??= run()
    },
    wake() {
      woken = true
      wakeUp?.()
    },
    async close() {
      stop.abort()
      wakeUp?.()
      await loop
    },
  }
}
