/**
 * The composition root: builds adapters from the configuration and wires
 * them into the services. The HTTP app, the CLI and tests all get their
 * Bridge from here, so they run the same object graph.
 */
import type { Logger } from 'pino'
import { createSystemClock } from './adapters/clock/system-clock.js'
import { createPrometheusMetrics, type PrometheusMetrics } from './adapters/metrics/prometheus.js'
import { createRemoteFiles } from './adapters/remote/index.js'
import { createSalesforceApi } from './adapters/salesforce/index.js'
import { type CronScheduler, startCronScheduler } from './adapters/scheduler/cron-scheduler.js'
import { createSDrive } from './adapters/sdrive/index.js'
import { createPostgresStore } from './adapters/store/postgres.js'
import { createPostgresRunLeases } from './adapters/store/postgres-leases.js'
import { createPostgresSlots } from './adapters/store/postgres-slots.js'
import { createSqliteStore } from './adapters/store/sqlite.js'
import { openSqlite } from './adapters/store/sqlite-connection.js'
import { createSqliteRunLeases } from './adapters/store/sqlite-leases.js'
import type { LoadedConfig } from './config/load.js'
import type { EndpointConfig, InboundFlow, OutboundFlow } from './config/schema.js'
import { BridgeError } from './domain/errors.js'
import type { SourceFolderFlow } from './flows/inbound/context.js'
import { createInboundEngine, type InboundEngine } from './flows/inbound/engine.js'
import { createExportEngine, type ExportEngine } from './flows/outbound/engine.js'
import { createReviewEngine, type ReviewEngine } from './flows/review/engine.js'
import type { Clock } from './ports/clock.js'
import type { RemoteFiles, RemoteRegistry } from './ports/remote-files.js'
import type { RunLeaseStore } from './ports/run-leases.js'
import type { SalesforceApi } from './ports/salesforce.js'
import type { SDrive } from './ports/sdrive.js'
import type { Store } from './ports/store.js'
import { createTransferQueue, type TransferQueue } from './queue/transfer-queue.js'
import { createRunEvents, type RunEvents } from './runs/events.js'
import { createLeaseKeeper } from './runs/lease-keeper.js'
import { subscribeLogs } from './runs/subscribers/logs.js'
import { subscribeMetrics } from './runs/subscribers/metrics.js'
import { createFlowSchemaChecker, type FlowSchemaChecker } from './services/flow-schema.js'
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
  /** Prunes finished runs, jobs, reviews and idempotency keys (store.retention). */
  retention: RetentionService
  /** Inbound flows checked against the org's schema; the misconfigured ones show in /readyz. */
  flowSchema: FlowSchemaChecker
  /** Settles when start-up's schema check of every inbound flow is done (it does not hold up start). */
  flowSchemaChecked(): Promise<void>
  /** Resumes unfinished runs and starts cron schedules and the pruner. */
  start(options?: { schedules?: boolean }): Promise<void>
  /** Drains for up to graceMs (work in flight may finish), then closes everything. */
  close(options?: { graceMs?: number }): Promise<void>
}

export interface BridgeOverrides {
  clock?: Clock
  store?: Store
  /** Run leases on the same database as `store` (given together with it). */
  runLeases?: RunLeaseStore
  remoteFactory?: (endpoint: EndpointConfig, logger: Logger) => RemoteFiles
}

export async function createBridge(
  config: LoadedConfig,
  logger: Logger,
  overrides: BridgeOverrides = {},
): Promise<Bridge> {
  const clock = overrides.clock ?? createSystemClock()
  const metrics = createPrometheusMetrics({ clock, flows: config.flows.map((f) => f.name) })
  const events = createRunEvents((error) =>
    logger.error(
      { err: error instanceof Error ? error.message : String(error) },
      'run event listener failed',
    ),
  )
  subscribeMetrics(events, metrics)
  subscribeLogs(events, logger.child({ component: 'runs' }))
  // Store and run leases share one SQLite connection, so lease claims join the store's group commit.
  const sqlite =
    config.store.postgresUrl || overrides.store ? undefined : openSqlite({ path: config.store.sqlitePath })
  const store =
    overrides.store ??
    (config.store.postgresUrl
      ? createPostgresStore({ url: config.store.postgresUrl, schema: config.store.postgresSchema })
      : createSqliteStore({ path: config.store.sqlitePath, connection: sqlite }))
  await store.migrate()
  const runLeases =
    overrides.runLeases ??
    (config.store.postgresUrl
      ? createPostgresRunLeases({ url: config.store.postgresUrl, schema: config.store.postgresSchema })
      : createSqliteRunLeases({
          path: config.store.sqlitePath,
          connection: sqlite,
        }))
  // The store and the leases hold their own shares of the connection now.
  sqlite?.close()
  const leases = createLeaseKeeper({
    leases: runLeases,
    leaseMs: config.store.leaseMs,
    logger: logger.child({ component: 'leases' }),
  })

  const endpoints = new Map(Object.values(config.endpoints).map((e) => [e.name, e]))
  const flows = new Map(
    config.flows.filter((f): f is SourceFolderFlow => f.kind !== 'outbound').map((f) => [f.name, f]),
  )
  const inboundFlows = new Map(
    config.flows.filter((f): f is InboundFlow => f.kind === 'inbound').map((f) => [f.name, f]),
  )
  // With replicas, an endpoint's maxConnections is shared by all of them (PostgreSQL advisory locks).
  const slots = config.store.postgresUrl
    ? createPostgresSlots({
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
  const remoteCache = new Map<string, RemoteFiles>()
  const remotes: RemoteRegistry = {
    get(name): RemoteFiles {
      const cached = remoteCache.get(name)
      if (cached) return cached
      const endpoint = endpoints.get(name)
      if (!endpoint) throw new BridgeError('NOT_FOUND', `endpoint "${name}" is not configured`)
      const remote = remoteFactory(endpoint, logger.child({ endpoint: name }))
      remoteCache.set(name, remote)
      return remote
    },
  }

  const sf = createSalesforceApi(config.salesforce, {
    logger: logger.child({ component: 'salesforce' }),
    onApiUsage: metrics.apiUsage,
    onApiLimitPause: (paused) => events.emit({ type: 'api-limit', paused }),
  })
  const sdrive = createSDrive(sf, config.sdrive, { logger: logger.child({ component: 'sdrive' }) })
  const queue = createTransferQueue({
    concurrency: config.queue.maxConcurrentTransfers,
    maxWaiting: config.queue.maxQueuedItems,
    endpointConcurrency: (name) => endpoints.get(name)?.maxConnections ?? 1,
  })
  const flowSchema = createFlowSchemaChecker({
    flows: config.flows,
    sf,
    logger: logger.child({ component: 'flow-schema' }),
    now: () => clock.now(),
  })
  let schemaChecked: Promise<void> = Promise.resolve()
  const engine = createInboundEngine({
    flowSchema,
    flows,
    endpoints,
    store,
    remotes,
    sf,
    sdrive,
    queue,
    clock,
    logger: logger.child({ component: 'engine' }),
    events,
    maxQueuedItems: config.queue.maxQueuedItems,
    maxActiveRuns: config.queue.maxActiveRuns,
    leases,
  })
  const exports = createExportEngine({
    flows: new Map(
      config.flows.filter((f): f is OutboundFlow => f.kind === 'outbound').map((f) => [f.name, f]),
    ),
    endpoints,
    store,
    remotes,
    sf,
    sdrive,
    queue,
    clock,
    logger: logger.child({ component: 'exports' }),
    events,
    maxQueuedItems: config.queue.maxQueuedItems,
    maxActiveRuns: config.queue.maxActiveRuns,
    leases,
  })

  const reviews = createReviewEngine({
    flows: inboundFlows,
    endpoints,
    store,
    remotes,
    sf,
    sdrive,
    clock,
    logger: logger.child({ component: 'reviews' }),
    events,
  })

  const retention = createRetentionService({
    store,
    clock,
    logger: logger.child({ component: 'retention' }),
    config: config.store.retention,
    exportFlows: config.flows.filter((f) => f.kind === 'outbound').map((f) => f.name),
    onPruned: metrics.retentionPruned,
  })

  let scheduler: CronScheduler | null = null
  let closed = false
  // The number admission compares with queue.maxQueuedItems (a 429 beyond it), not the in-memory
  // transfer queue, which holds nothing while jobs wait (for a retry or the API limit).
  const depthTimer = setInterval(() => {
    exports.queuedWork().then(metrics.queueDepth, () => {})
  }, 1000)
  depthTimer.unref()

  return {
    config,
    flows,
    endpoints,
    store,
    sf,
    sdrive,
    remotes,
    queue,
    engine,
    exports,
    reviews,
    metrics,
    events,
    logger,
    retention,
    flowSchema,
    flowSchemaChecked: () => schemaChecked,
    async start(options = {}) {
      // One describe per configured object; a wrong name marks its flow, the others run on.
      schemaChecked = flowSchema.checkAll()
      // Runs of flows taken out of the configuration would wait forever: say why they ended.
      const configured = new Set(config.flows.map((f) => f.name))
      for (const run of await store.findRuns(['waiting_for_window', 'queued', 'running'])) {
        if (configured.has(run.flow)) continue
        await store.updateRun(run.id, {
          state: 'failed',
          finishedAt: new Date(clock.now()).toISOString(),
          error: { code: 'NOT_FOUND', message: `flow "${run.flow}" is no longer configured` },
        })
      }
      await engine.recover()
      await exports.recover()
      await reviews.recover()
      if (options.schedules !== false) {
        scheduler = startCronScheduler([...flows.values()], engine, logger)
        exports.startWindows()
        // Background maintenance, like the schedules: not in tests that drive the bridge by hand.
        retention.start()
      }
    },
    async close(options = {}) {
      if (closed) return
      closed = true
      clearInterval(depthTimer)
      scheduler?.stop()
      // Each cleanup runs even if an earlier one fails; the first failure is reported.
      // Engines first (they drain and may still use connections and the store), then the rest.
      const engines = await Promise.allSettled([
        retention.close(),
        engine.close(options),
        exports.close(options),
        reviews.close(options),
      ])
      const remotes = await Promise.allSettled([...remoteCache.values()].map((r) => r.close()))
      sf.close()
      const storeClosed = await Promise.allSettled([leases.close(), store.close(), slots?.close()])
      const failure = [...engines, ...remotes, ...storeClosed].find((r) => r.status === 'rejected')
      if (failure && failure.status === 'rejected') throw failure.reason
    },
  }
}
