/** BridgeMetrics on prom-client, in a registry of its own (several apps per process in tests). */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Clock } from '../../ports/clock.js'
import type { BridgeMetrics } from '../../ports/metrics.js'

/**
 * prom-client's process metrics already start with `process_` or `nodejs_`,
 * so the prefix is only `bridge_`: `bridge_process_resident_memory_bytes`,
 * `bridge_nodejs_eventloop_lag_seconds` (a `bridge_process_` prefix made
 * `bridge_process_process_…`, which no documented alert matched).
 */
export const DEFAULT_METRICS_PREFIX = 'bridge_'

/**
 * prom-client's gauges that end in `_total`, a suffix Prometheus keeps for
 * counters. Each is the sum of its labelled sibling without the suffix
 * (`bridge_nodejs_active_handles{type}`), so it is dropped rather than
 * renamed: `sum without (type) (bridge_nodejs_active_handles)` is the same number.
 */
const GAUGES_NAMED_LIKE_COUNTERS = [
  'active_resources_total',
  'active_handles_total',
  'active_requests_total',
].map((n) => `${DEFAULT_METRICS_PREFIX}nodejs_${n}`)

export interface PrometheusMetrics extends BridgeMetrics {
  registry: Registry
  render(): Promise<string>
  contentType: string
}

export interface PrometheusMetricsOptions {
  defaultMetrics?: boolean
  /** The clock of `bridge_last_success_timestamp_seconds` (the services' clock). */
  clock?: Pick<Clock, 'now'>
  /**
   * The configured flows: their outcome counters (and duration buckets) start at 0, so the first
   * failure is an increase from 0 that `increase()` sees (a series born at 1
   * has no earlier sample, and an alert on it would miss the first failure).
   */
  flows?: readonly string[]
}

const RUN_STATES = ['succeeded', 'partially_failed', 'failed'] as const
const FILE_OUTCOMES = ['done', 'skipped', 'failed', 'retrying'] as const
const REVIEW_EVENTS = ['rejected', 'resubmitted', 'failed'] as const
const STATUS_ROW_OUTCOMES = ['applied', 'rejected'] as const

/** The bridge's own series, registered in `registry`. */
function createInstruments(registry: Registry) {
  return {
    files: new Counter({
      name: 'bridge_files_total',
      help: 'Files by flow and outcome (done, skipped, failed, retrying).',
      labelNames: ['flow', 'outcome'],
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'bridge_bytes_total',
      help: 'Bytes transferred by flow and outcome.',
      labelNames: ['flow', 'outcome'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'bridge_failures_total',
      help: 'Failures by flow and error code (each failed attempt counts).',
      labelNames: ['flow', 'code'],
      registers: [registry],
    }),
    runs: new Counter({
      name: 'bridge_runs_total',
      help: 'Finished runs by flow and final state.',
      labelNames: ['flow', 'state'],
      registers: [registry],
    }),
    durations: new Histogram({
      name: 'bridge_transfer_duration_seconds',
      help: 'Duration of one file transfer (remote read + S3 upload).',
      labelNames: ['flow'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      registers: [registry],
    }),
    queue: new Gauge({
      name: 'bridge_queue_depth',
      help: 'Work waiting or in progress, as export admission counts it against queue.maxQueuedItems: files not finished plus export jobs not finished (paused ones included).',
      registers: [registry],
    }),
    apiUsed: new Gauge({
      name: 'bridge_salesforce_api_usage',
      help: 'Salesforce API requests used in the last 24 h (Sforce-Limit-Info).',
      registers: [registry],
    }),
    apiLimit: new Gauge({
      name: 'bridge_salesforce_api_limit',
      help: 'Salesforce API daily request limit (Sforce-Limit-Info).',
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: 'bridge_last_success_timestamp_seconds',
      help: 'Unix time of the last run (inbound, status, review) or export job of the flow that ended succeeded.',
      labelNames: ['flow'],
      registers: [registry],
    }),
    apiLimitPaused: new Gauge({
      name: 'bridge_salesforce_api_limit_paused',
      help: '1 while every Salesforce call waits because the org is at its API request limit, else 0.',
      registers: [registry],
    }),
    reviews: new Counter({
      name: 'bridge_review_events_total',
      help: 'Review loop steps by flow: rejected (returned to the partner), resubmitted, failed.',
      labelNames: ['flow', 'event'],
      registers: [registry],
    }),
    statusRows: new Counter({
      name: 'bridge_status_rows_total',
      help: 'Status-file rows by flow and outcome (applied, rejected).',
      labelNames: ['flow', 'outcome'],
      registers: [registry],
    }),
    retentionPruned: new Counter({
      name: 'bridge_retention_pruned_rows_total',
      help: 'Rows deleted by retention, by kind (runs, items, export_jobs, idempotency_keys, reviews).',
      labelNames: ['kind'],
      registers: [registry],
    }),
  }
}

type Instruments = ReturnType<typeof createInstruments>

/** Starts each configured flow's outcome series at 0 (see PrometheusMetricsOptions.flows). */
function zeroFlowSeries(m: Instruments, flows: readonly string[]): void {
  for (const flow of flows) {
    for (const state of RUN_STATES) m.runs.inc({ flow, state }, 0)
    for (const outcome of FILE_OUTCOMES) m.files.inc({ flow, outcome }, 0)
    for (const event of REVIEW_EVENTS) m.reviews.inc({ flow, event }, 0)
    for (const outcome of STATUS_ROW_OUTCOMES) m.statusRows.inc({ flow, outcome }, 0)
    m.durations.zero({ flow })
  }
}

export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const registry = new Registry()
  const clock = options.clock ?? { now: () => Date.now() }
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: DEFAULT_METRICS_PREFIX })
    for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name)
  }
  const m = createInstruments(registry)
  zeroFlowSeries(m, options.flows ?? [])
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    fileFinished(flow, outcome, n) {
      m.files.inc({ flow, outcome })
      if (n > 0) m.bytes.inc({ flow, outcome }, n)
    },
    failure: (flow, code) => m.failures.inc({ flow, code }),
    transferDuration: (flow, seconds) => m.durations.observe({ flow }, seconds),
    queueDepth: (depth) => m.queue.set(depth),
    runFinished(flow, state) {
      m.runs.inc({ flow, state })
      if (state === 'succeeded') m.lastSuccess.set({ flow }, clock.now() / 1000)
    },
    apiUsage(usage) {
      m.apiUsed.set(usage.used)
      m.apiLimit.set(usage.limit)
    },
    apiLimitPaused: (paused) => m.apiLimitPaused.set(paused ? 1 : 0),
    reviewEvent: (flow, event) => m.reviews.inc({ flow, event }),
    statusRows(flow, outcome, count) {
      if (count > 0) m.statusRows.inc({ flow, outcome }, count)
    },
    retentionPruned(kind, rows) {
      if (rows > 0) m.retentionPruned.inc({ kind }, rows)
    },
  }
}
