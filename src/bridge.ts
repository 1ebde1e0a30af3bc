/**
 * The composition root: builds adapters from the configuration and wires
 * them into the services. The HTTP app, the CLI and tests all get their
 * Bridge from here, so they run the same object graph.
 */

import type { Logger } from 'pino'
import { createSystemClock } from './adapters/clock/system-clock.js'
import { createPrometheusMetrics, type PrometheusMetrics } from './adapters/metrics/prometheus.js'
import { type ExchangeRecording, openExchangeRecording } from './adapters/recording/exchange-file.js'
import { createRemoteFiles } from './adapters/remote/index.js'
import { createSalesforceApi } from './adapters/salesforce/index.js'
import { type CronScheduler, nextTickOf, startCronScheduler } from './adapters/scheduler/cron-scheduler.js'
import { createSDrive } from './adapters/sdrive/index.js'
import { createSqliteStore } from './adapters/store/sqlite.js'
import { openSqlite } from './adapters/store/sqlite-connection.js'
import { createSqliteRunLeases } from './adapters/store/sqlite-leases.js'
import { createSqlitePollClaims } from './adapters/store/sqlite-poll-claims.js'
import { reloadActions } from './bridge-reload.js'
import type { LoadedConfig } from './config/load.js'
import type { EndpointConfig } from './config/schema.js'
import { configSecrets } from './config/secrets.js'
import type { TransferServices } from './flows/flow-services.js'
import type { SourceFolderFlow } from './flows/inbound/context.js'
import { createInboundEngine, type InboundEngine } from './flows/inbound/engine.js'
import { createExportEngine, type ExportEngine } from './flows/outbound/engine.js'
import { createPollTrigger, type PollStep, type PollTrigger } from './flows/outbound/poll-trigger.js'
import { createPubSubTriggers, type PubSubTriggers } from './flows/outbound/pubsub-trigger.js'
import { createReviewEngine, type ReviewEngine } from './flows/review/engine.js'
import { createNotificationService, type NotificationService } from './notify/service.js'
import type { Clock } from './ports/clock.js'
import type { EventSubscriber } from './ports/event-subscriber.js'
import type { PollClaimStore } from './ports/poll-claims.js'
import type { RemoteFiles, RemoteRegistry } from './ports/remote-files.js'
import type { RunLeaseStore } from './ports/run-leases.js'
import type { SalesforceApi } from './ports/salesforce.js'
import type { SDrive } from './ports/sdrive.js'
import type { Store } from './ports/store.js'
import { createTransferQueue, type TransferQueue } from './queue/transfer-queue.js'
import { createRunEvents, type RunEvents } from './runs/events.js'
import { createLeaseKeeper, type LeaseKeeper } from './runs/lease-keeper.js'
import { subscribeAuditLog } from './runs/subscribers/audit-log.js'
import { subscribeLogs } from './runs/subscribers/logs.js'
import { subscribeMetrics } from './runs/subscribers/metrics.js'
import { type ConfigReloader, createConfigReloader, type ReloadResult } from './services/config-reload.js'
import { createFlowSchemaChecker, type FlowSchemaChecker } from './services/flow-schema.js'
import { createLiveConfig, type LiveConfig } from './services/live-config.js'
import { createReloadableRemotes, type ReloadableRemotes } from './services/remote-registry.js'
import { createRetentionService, type RetentionService } from './services/retention.js'

export interface Bridge {
  config: LoadedConfig
  /** Flows that read a source folder: inbound transfers and status files. */
  flows: ReadonlyMap<string, SourceFolderFlow>
  endpoints: ReadonlyMap<string, EndpointConfig>
  store: Store
  sf: SalesforceApi
  sdrive: SDrive
  remotes: RemoteRegistry
  queue: TransferQueue
  engine: InboundEngine
  exports: ExportEngine
  reviews: ReviewEngine
  metrics: PrometheusMetrics
  /** Runs, items and API-limit pauses as typed events: metrics, logs and SSE progress subscribe. */
  events: RunEvents
  logger: Logger
  /** The notification outbox (GET /v1/notifications, the console) and its delivery. */
  notifications: NotificationService
  /** Prunes finished runs, jobs, reviews and idempotency keys (store.retention). */
  retention: RetentionService
  /** Inbound flows checked against the org's schema; the misconfigured ones show in /readyz. */
  flowSchema: FlowSchemaChecker
  /** When the flow's schedule (inbound, status) or delivery window (outbound) fires next; null if it has none. */
  nextTick(flow: string): string | null
  /** The bridge's clock (console sessions and pages read the time from it). */
  clock: Clock
  /** Settles when start-up's schema check of every inbound flow is done (it does not hold up start). */
  flowSchemaChecked(): Promise<void>
  /** Resumes unfinished runs and starts cron schedules and the pruner. */
  start(options?: { schedules?: boolean }): Promise<void>
  /** Drains for up to graceMs (work in flight may finish), then closes everything. */
  close(options?: { graceMs?: number }): Promise<void>
  /**
   * Reads the configuration file again and puts its flows and endpoints in
   * force (src/services/config-reload.ts); CONFIG_INVALID leaves the running
   * configuration as it was.
   */
  reload(trigger: 'api' | 'signal'): Promise<ReloadResult>
}

export interface BridgeOverrides {
  clock?: Clock
  store?: Store
  /** Run leases on the same database as `store` (given together with it). */
  runLeases?: RunLeaseStore
  remoteFactory?: (endpoint: EndpointConfig, logger: Logger) => RemoteFiles
  /** Told at each step of a poll tick (crash-window tests stop the process there). */
  onPollStep?: (step: PollStep, flow: string) => void
  /** Reads and validates the configuration file again, for reloads; absent: reload is refused. */
  configSource?: () => Promise<LoadedConfig>
}

/** The run event stream, with metrics, lifecycle logs and the audit trail subscribed. */
function createEventStream(logger: Logger, metrics: PrometheusMetrics): RunEvents {
  const events = createRunEvents((error) =>
    logger.error(
      { err: error instanceof Error ? error.message : String(error) },
      'run event listener failed',
    ),
  )
  subscribeMetrics(events, metrics)
  subscribeLogs(events, logger.child({ component: 'runs' }))
  subscribeAuditLog(events, logger.child({ component: 'audit' }))
  return events
}

type PostgresBackend = typeof import('./adapters/store/postgres-backend.js')

/** The PostgreSQL adapters, loaded only when the store is PostgreSQL (pg weighs ~10 MiB of RSS). */
async function loadPostgres(config: LoadedConfig): Promise<PostgresBackend | null> {
  return config.store.postgresUrl ? import('./adapters/store/postgres-backend.js') : null
}

/** The state store and run leases, migrated: SQLite by default, PostgreSQL for replicas. */
async function openStateStore(
  config: LoadedConfig,
  overrides: BridgeOverrides,
  postgres: PostgresBackend | null,
): Promise<{ store: Store; runLeases: RunLeaseStore; pollClaims: PollClaimStore }> {
  const pg =
    postgres && config.store.postgresUrl
      ? { url: config.store.postgresUrl, schema: config.store.postgresSchema }
      : null
  // Store and run leases share one SQLite connection, so lease claims join the store's group commit.
  const sqlite = pg || overrides.store ? undefined : openSqlite({ path: config.store.sqlitePath })
  const store =
    overrides.store ??
    (pg && postgres
      ? postgres.createPostgresStore(pg)
      : createSqliteStore({ path: config.store.sqlitePath, connection: sqlite }))
  await store.migrate()
  const runLeases =
    overrides.runLeases ??
    (pg && postgres
      ? postgres.createPostgresRunLeases(pg)
      : createSqliteRunLeases({ path: config.store.sqlitePath, connection: sqlite }))
  const pollClaims =
    pg && postgres
      ? postgres.createPostgresPollClaims(pg)
      : createSqlitePollClaims({ path: config.store.sqlitePath, ...(sqlite ? { connection: sqlite } : {}) })
  // The store and the leases hold their own shares of the connection now.
  sqlite?.close()
  return { store, runLeases, pollClaims }
}

/** One pool per endpoint, made on first use; with replicas their connection caps are shared. */
function createRemotePool(
  config: LoadedConfig,
  endpoints: ReadonlyMap<string, EndpointConfig>,
  overrides: BridgeOverrides,
  logger: Logger,
  postgres: PostgresBackend | null,
): ReloadableRemotes {
  // With replicas, an endpoint's maxConnections is shared by all of them (PostgreSQL advisory locks).
  const slots =
    postgres && config.store.postgresUrl
      ? postgres.createPostgresSlots({
          url: config.store.postgresUrl,
          schema: config.store.postgresSchema,
          poolSize: [...endpoints.values()].reduce((sum, e) => sum + e.maxConnections, 0) + 1,
        })
      : null
  const remoteFactory =
    overrides.remoteFactory ??
    ((endpoint: EndpointConfig, log: Logger) =>
      createRemoteFiles(
        endpoint,
        log,
        slots
          ? { slots: { acquire: (signal) => slots.acquire(endpoint.name, endpoint.maxConnections, signal) } }
          : {},
      ))
  const pools = createReloadableRemotes(endpoints, remoteFactory, logger)
  return {
    ...pools,
    close: async () => [...(await pools.close()), ...(await Promise.allSettled([slots?.close()]))],
  }
}

/** What every flow kind's engine is built from. */
interface EngineParts extends TransferServices {
  config: LoadedConfig
  live: LiveConfig
  leases: LeaseKeeper
  flowSchema: FlowSchemaChecker
}

function createEngines(parts: EngineParts): Pick<Bridge, 'engine' | 'exports' | 'reviews'> {
  const { config, live, logger, ...shared } = parts
  const { flowSchema, queue, leases, ...services } = shared
  const limits = { maxQueuedItems: config.queue.maxQueuedItems, maxActiveRuns: config.queue.maxActiveRuns }
  // The live maps: a reload changes what they hold, and the engines look flows up in them per run.
  return {
    engine: createInboundEngine({
      ...shared,
      ...limits,
      completionWaitMs: config.sdrive.completionWaitMs,
      flows: live.sourceFlows,
      logger: logger.child({ component: 'engine' }),
    }),
    exports: createExportEngine({
      ...services,
      ...limits,
      queue,
      leases,
      flows: live.outboundFlows,
      logger: logger.child({ component: 'exports' }),
    }),
    reviews: createReviewEngine({
      ...services,
      flows: live.inboundFlows,
      logger: logger.child({ component: 'reviews' }),
    }),
  }
}

/** Runs of flows taken out of the configuration would wait forever: say why they ended. */
async function failRunsOfRemovedFlows(config: LoadedConfig, store: Store, clock: Clock): Promise<void> {
  const configured = new Set(config.flows.map((f) => f.name))
  for (const run of await store.findRuns(['waiting_for_window', 'queued', 'running'])) {
    if (configured.has(run.flow)) continue
    await store.updateRun(run.id, {
      state: 'failed',
      finishedAt: new Date(clock.now()).toISOString(),
      error: { code: 'NOT_FOUND', message: `flow "${run.flow}" is no longer configured` },
    })
  }
}

export async function createBridge(
  config: LoadedConfig,
  logger: Logger,
  overrides: BridgeOverrides = {},
): Promise<Bridge> {
  const clock = overrides.clock ?? createSystemClock()
  const live = createLiveConfig(config)
  const metrics = createPrometheusMetrics({ clock, flows: config.flows.map((f) => f.name) })
  const events = createEventStream(logger, metrics)
  const postgres = await loadPostgres(config)
  const { store, runLeases, pollClaims } = await openStateStore(config, overrides, postgres)
  const leases = createLeaseKeeper({
    leases: runLeases,
    leaseMs: config.store.leaseMs,
    logger: logger.child({ component: 'leases' }),
  })
  const endpoints = live.endpoints
  const pool = createRemotePool(config, endpoints, overrides, logger, postgres)
  const recording = openSupportRecording(config, logger)
  const record = recording ? { record: recording.sink } : {}
  const sf = createSalesforceApi(config.salesforce, {
    logger: logger.child({ component: 'salesforce' }),
    onApiUsage: metrics.apiUsage,
    onApiLimitPause: (paused) => events.emit({ type: 'api-limit', paused }),
    ...record,
  })
  const sdrive = createSDrive(sf, config.sdrive, { logger: logger.child({ component: 'sdrive' }), ...record })
  const queue = createTransferQueue({
    concurrency: config.queue.maxConcurrentTransfers,
    maxWaiting: config.queue.maxQueuedItems,
    endpointConcurrency: (name) => endpoints.get(name)?.maxConnections ?? 1,
  })
  const flowSchema = createFlowSchemaChecker({
    flows: live.flowList,
    sf,
    logger: logger.child({ component: 'flow-schema' }),
    now: () => clock.now(),
  })
  const remotes = pool.remotes
  const notifications = createNotificationService({ config, store, sf, clock, events, logger })
  const engines = createEngines({
    ...{ outbox: notifications.outbox, config, live, endpoints, store, remotes, sf, sdrive, queue },
    ...{ clock, events, leases, flowSchema, logger },
  })
  const retention = createRetentionService({
    store,
    clock,
    logger: logger.child({ component: 'retention' }),
    config: config.store.retention,
    exportFlows: live.outboundNames,
    onPruned: metrics.retentionPruned,
  })
  const { poll, triggers } = createTriggers({
    live,
    config,
    sf,
    pollClaims,
    runLeases,
    store,
    owner: leases.owner,
    logger,
    exports: engines.exports,
    ...(overrides.onPollStep ? { onPollStep: overrides.onPollStep } : {}),
  })
  const parts = { config, flows: live.sourceFlows, endpoints, store, sf, sdrive }
  const services = { metrics, events, logger, retention, flowSchema, notifications, clock }
  const bridge = { ...parts, remotes, queue, ...engines, ...services, nextTick: nextTickFor(live, clock) }
  const timers = createTimers(bridge, logger)
  const reload = createConfigReloader({
    live,
    load: overrides.configSource ?? null,
    applied: reloadActions({
      live,
      remotes: pool,
      queue,
      store,
      leases,
      clock,
      logger,
      ...timers,
      triggers: [poll, triggers],
    }),
    clock,
    logger: logger.child({ component: 'reload' }),
  })
  return withLiveConfig(
    withLifecycle(bridge, { clock, leases, pool, recording, timers, poll, pollClaims, triggers }),
    live,
    reload,
  )
}

/** bridge.config is the configuration in force (reloaded flows and endpoints), read at each use. */
function withLiveConfig(bridge: Omit<Bridge, 'reload'>, live: LiveConfig, reloader: ConfigReloader): Bridge {
  const withReload: Bridge = { ...bridge, reload: (trigger) => reloader.reload(trigger) }
  Object.defineProperty(withReload, 'config', { get: () => live.current, enumerable: true })
  return withReload
}

interface BridgeTimers {
  /** Starts cron schedules and delivery windows (start-up, unless a test drives runs by hand). */
  startTimers(): void
  /** The flows in force now get their schedules and windows; nothing if they never started. */
  restartTimers(): void
  recheckFlows(): void
  stopTimers(): void
}

function createTimers(
  bridge: Pick<Bridge, 'flows' | 'engine' | 'exports' | 'flowSchema'>,
  logger: Logger,
): BridgeTimers {
  let scheduler: CronScheduler | null = null
  return {
    startTimers() {
      scheduler = startCronScheduler([...bridge.flows.values()], bridge.engine, logger)
      bridge.exports.startWindows()
    },
    restartTimers() {
      if (!scheduler) return
      scheduler.replace([...bridge.flows.values()])
      bridge.exports.startWindows()
    },
    recheckFlows: () => void bridge.flowSchema.checkAll(),
    stopTimers() {
      scheduler?.stop()
      scheduler = null
    },
  }
}

/** What starts export jobs besides the API: the polling trigger and the Pub/Sub triggers. */
function createTriggers(parts: {
  live: LiveConfig
  config: LoadedConfig
  sf: SalesforceApi
  pollClaims: PollClaimStore
  runLeases: RunLeaseStore
  store: Store
  owner: string
  exports: ExportEngine
  logger: Logger
  onPollStep?: (step: PollStep, flow: string) => void
}): { poll: PollTrigger; triggers: PubSubTriggers } {
  const { live, config, logger } = parts
  const poll = createPollTrigger({
    flows: live.outboundFlows.values(),
    sf: parts.sf,
    claims: parts.pollClaims,
    submissions: parts.exports,
    maxQueuedItems: config.queue.maxQueuedItems,
    owner: parts.owner,
    leaseMs: config.store.leaseMs,
    logger: logger.child({ component: 'poll' }),
    ...(parts.onPollStep ? { onStep: parts.onPollStep } : {}),
  })
  const triggers = createPubSubTriggers({
    flows: live.outboundFlows.values(),
    subscriber: lazyPubSubSubscriber(config, parts.sf, logger),
    leases: parts.runLeases,
    owner: parts.owner,
    leaseMs: config.store.leaseMs,
    store: parts.store,
    submit: parts.exports.submit,
    logger: logger.child({ component: 'pubsub-trigger' }),
  })
  return { poll, triggers }
}

/**
 * The Pub/Sub client (gRPC, Avro) is loaded at the first subscription, which a flow added by a reload
 * may ask for as well as one configured at start: the other configurations never carry it.
 */
function lazyPubSubSubscriber(
  config: LoadedConfig,
  sf: SalesforceApi,
  logger: Logger,
): () => Promise<EventSubscriber> {
  let subscriber: Promise<EventSubscriber> | null = null
  return () => {
    if (subscriber) return subscriber
    const loading = import('./adapters/pubsub/client.js').then(({ createPubSubSubscriber }) =>
      createPubSubSubscriber(config.salesforce.pubsub, { sf, logger: logger.child({ component: 'pubsub' }) }),
    )
    subscriber = loading
    // A failed load is tried again at the next subscription rather than remembered.
    loading.catch(() => {
      if (subscriber === loading) subscriber = null
    })
    return loading
  }
}

/** When a flow's schedule (inbound, status) or delivery window (outbound) fires next; null if it has none. */
function nextTickFor(live: LiveConfig, clock: Clock): (flow: string) => string | null {
  return (name) => {
    const flow = live.flowList.find((f) => f.name === name)
    const schedule = flow?.kind === 'outbound' ? flow.window : flow?.schedule
    return schedule ? nextTickOf(schedule, new Date(clock.now())) : null
  }
}

/** server.recordSalesforce: a bounded recording of every Salesforce exchange, for support. */
function openSupportRecording(config: LoadedConfig, logger: Logger): ExchangeRecording | null {
  const directory = config.server.recordSalesforce
  if (directory === undefined) return null
  const forMs = config.server.recordSalesforceMinutes * 60_000
  const recording = openExchangeRecording({
    directory,
    label: 'salesforce',
    secrets: configSecrets(config),
    forMs,
  })
  logger.warn({ path: recording.path, forMs }, 'recording every Salesforce exchange (redacted) for support')
  return recording
}

/** start() and close() of the bridge: what runs in the background, and the order things close in. */
function withLifecycle(
  bridge: Omit<Bridge, 'start' | 'close' | 'flowSchemaChecked' | 'reload'>,
  own: {
    clock: Clock
    leases: LeaseKeeper
    pool: ReloadableRemotes
    recording: ExchangeRecording | null
    timers: BridgeTimers
    poll: PollTrigger
    pollClaims: PollClaimStore
    triggers: PubSubTriggers
  },
): Omit<Bridge, 'reload'> {
  const { config, store, engine, exports, reviews, retention, metrics, flowSchema, notifications } = bridge
  let schemaChecked: Promise<void> = Promise.resolve()
  let closed = false
  // The number admission compares with queue.maxQueuedItems (a 429 beyond it), not the in-memory
  // transfer queue, which holds nothing while jobs wait (for a retry or the API limit).
  const depthTimer = setInterval(() => {
    exports.queuedWork().then(metrics.queueDepth, () => {})
  }, 1000)
  depthTimer.unref()
  return {
    ...bridge,
    flowSchemaChecked: () => schemaChecked,
    async start(options = {}) {
      // One describe per configured object; a wrong name marks its flow, the others run on.
      schemaChecked = flowSchema.checkAll()
      await failRunsOfRemovedFlows(config, store, own.clock)
      await engine.recover()
      await exports.recover()
      await reviews.recover()
      // Messages left pending by a previous process (a crash, a restart) go out now.
      notifications.start()
      own.triggers.start()
      if (options.schedules !== false) {
        own.timers.startTimers()
        own.poll.start()
        // Background maintenance, like the schedules: not in tests that drive the bridge by hand.
        retention.start()
      }
    },
    async close(options = {}) {
      if (closed) return
      closed = true
      clearInterval(depthTimer)
      own.timers.stopTimers()
      // Before the engines, so nothing submits to a closing engine; a tick cut between claim and
      // job leaves its intents, finished by the next poller.
      const polled = await Promise.allSettled([own.poll.close()])
      // Each cleanup runs even if an earlier one fails; the first failure is reported.
      // Engines first (they drain and may still use connections and the store), then the rest.
      // Events stop turning into jobs before the engines drain.
      await own.triggers.close()
      const engines = await Promise.allSettled([
        retention.close(),
        engine.close(options),
        exports.close(options),
        reviews.close(options),
      ])
      // After the engines (their last runs' messages are written), before the store closes.
      const notified = await Promise.allSettled([notifications.close()])
      const remotes = await own.pool.close()
      bridge.sf.close()
      await own.recording?.close()
      const storeClosed = await Promise.allSettled([
        own.leases.close(),
        own.pollClaims.close(),
        store.close(),
      ])
      const failure = [...polled, ...engines, ...notified, ...remotes, ...storeClosed].find(
        (r) => r.status === 'rejected',
      )
      if (failure && failure.status === 'rejected') throw failure.reason
    },
  }
}
