/**
 * Notifications, assembled: the outbox the run driver and the review loop
 * write through, the event watchers, the flow.no_success watchdog and the
 * delivery worker, started and closed with the bridge. `list` is the
 * outbox as the API and the console show it (no secret: a webhook shows
 * its host only).
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { LoadedConfig } from '../config/load.js'
import { toBridgeError } from '../domain/errors.js'
import type { Clock } from '../ports/clock.js'
import type { NotificationOutbox } from '../ports/outbox.js'
import type { SalesforceApi } from '../ports/salesforce.js'
import type { ListOutboxQuery, NewOutboxMessage, OutboxMessage, Store } from '../ports/store.js'
import type { RunEvents, RunKind } from '../runs/events.js'
import type { FailedFile } from './compose.js'
import { createNotificationOutbox, REJECTION_EMAIL_CHANNEL } from './outbox.js'
import { noSuccessMessages } from './watchdog.js'
import { watchEvents } from './watchers.js'
import { createDeliveryWorker } from './worker.js'

export interface NotificationView {
  id: string
  channel: string
  channelType: 'webhook' | 'salesforceEmail' | 'platformEvent' | 'email' | 'unknown'
  /** Where it goes: a webhook's host, the email recipients, the platform event's name. */
  destination: string
  event: string
  flow: string | null
  runId: string | null
  state: OutboxMessage['state']
  attempts: number
  nextAttemptAt: string
  lastError: { code: string; message: string } | null
  createdAt: string
  sentAt: string | null
  subject: string
  text: string
  files: FailedFile[]
  more: number
}

export interface NotificationService {
  /** What the run driver and the review loop write with their events. */
  outbox: NotificationOutbox
  /** The outbox, newest first, keyset-paged. */
  list(query: ListOutboxQuery): Promise<{ notifications: NotificationView[]; nextCursor: string | null }>
  /** Starts the watchers, the watchdog and (notifications.deliver) the delivery worker. */
  start(): void
  /** Stops them; deliveries in flight finish. */
  close(): Promise<void>
}

export interface NotificationDeps {
  config: LoadedConfig
  store: Store
  sf: SalesforceApi
  clock: Clock
  events: RunEvents
  logger: Logger
}

function kindsOf(config: LoadedConfig): Map<string, RunKind> {
  return new Map(config.flows.map((f) => [f.name, f.kind]))
}

function endpointsOf(config: LoadedConfig): Map<string, string> {
  return new Map(
    config.flows.map((f) => [f.name, f.kind === 'outbound' ? f.destination.endpoint : f.source.endpoint]),
  )
}

function destinationOf(
  config: LoadedConfig,
  message: OutboxMessage,
): Pick<NotificationView, 'channelType' | 'destination'> {
  if (message.channel === REJECTION_EMAIL_CHANNEL) {
    const to = Array.isArray(message.body.to) ? message.body.to.join(', ') : ''
    return { channelType: 'email', destination: to }
  }
  const channel = config.notifications.channels[message.channel]
  if (!channel) return { channelType: 'unknown', destination: '' }
  if (channel.type === 'webhook') return { channelType: 'webhook', destination: new URL(channel.url).host }
  if (channel.type === 'salesforceEmail')
    return { channelType: 'salesforceEmail', destination: channel.to.join(', ') }
  return { channelType: 'platformEvent', destination: channel.event }
}

export function toNotificationView(config: LoadedConfig, m: OutboxMessage): NotificationView {
  const body = m.body as { subject?: string; text?: string; files?: FailedFile[]; more?: number }
  return {
    id: m.id,
    channel: m.channel,
    ...destinationOf(config, m),
    event: m.event,
    flow: m.flow,
    runId: m.runId,
    state: m.state,
    attempts: m.attempts,
    nextAttemptAt: m.nextAttemptAt,
    lastError: m.lastError,
    createdAt: m.createdAt,
    sentAt: m.sentAt,
    subject: body.subject ?? '',
    text: body.text ?? '',
    files: body.files ?? [],
    more: body.more ?? 0,
  }
}

export function createNotificationService(deps: NotificationDeps): NotificationService {
  const { config, store, clock, logger } = deps
  const settings = config.notifications
  const log = logger.child({ component: 'notifications' })
  const worker = createDeliveryWorker({
    config: settings,
    store,
    sf: deps.sf,
    clock,
    logger: log,
    owner: `${process.pid}-${randomUUID()}`,
  })
  const stops: (() => void)[] = []
  let watchdog: Promise<void> = Promise.resolve()

  const enqueue = (messages: NewOutboxMessage[]) => {
    if (messages.length === 0) return
    store.enqueueOutbox(messages).then(
      (written) => {
        if (written > 0) worker.wake()
      },
      (error) => log.error({ err: toBridgeError(error).message }, 'could not write notifications'),
    )
  }

  function startWatchdog(): void {
    if (!settings.rules.some((r) => r.on.includes('flow.no_success'))) return
    const watch = {
      rules: settings.rules,
      flows: config.flows.map((f) => f.name),
      store,
      now: () => clock.now(),
      watchingSince: clock.now(),
    }
    const tick = () => {
      watchdog = noSuccessMessages(watch).then(enqueue, (error) =>
        log.warn({ err: toBridgeError(error).message }, 'flow.no_success check failed'),
      )
    }
    const timer = setInterval(tick, settings.pollIntervalMs)
    timer.unref()
    tick()
    stops.push(() => clearInterval(timer))
  }

  return {
    outbox: createNotificationOutbox({
      config: settings,
      store,
      kinds: kindsOf(config),
      now: () => clock.now(),
    }),
    async list(query) {
      const page = await store.listOutbox(query)
      return {
        notifications: page.messages.map((m) => toNotificationView(config, m)),
        nextCursor: page.nextCursor,
      }
    },
    start() {
      stops.push(
        watchEvents({
          events: deps.events,
          rules: settings.rules,
          endpointOf: endpointsOf(config),
          now: () => clock.now(),
          enqueue,
        }),
        // Run outcomes and rejections are written by their own transactions: look for them at once.
        deps.events.on('run-finished', () => worker.wake()),
        deps.events.on('review', () => worker.wake()),
      )
      startWatchdog()
      if (settings.deliver) worker.start()
    },
    async close() {
      for (const stop of stops.splice(0)) stop()
      await watchdog
      await worker.close()
    },
  }
}
