/** BridgeMetrics on prom-client, in a registry of its own (several apps per process in tests). */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { BridgeMetrics } from '../../ports/metrics.js'

export interface PrometheusMetrics extends BridgeMetrics {
  registry: Registry
  render(): Promise<string>
  contentType: string
}

export function createPrometheusMetrics(options: { defaultMetrics?: boolean } = {}): PrometheusMetrics {
  const registry = new Registry()
  if (options.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'bridge_process_' })
  const files = new Counter({
    name: 'bridge_files_total',
    help: 'Files by flow and outcome (done, skipped, failed, retrying).',
    labelNames: ['flow', 'outcome'],
    registers: [registry],
  })
  const bytes = new Counter({
    name: 'bridge_bytes_total',
    help: 'Bytes transferred by flow and outcome.',
    labelNames: ['flow', 'outcome'],
    registers: [registry],
  })
  const failures = new Counter({
    name: 'bridge_failures_total',
    help: 'Failures by flow and error code (each failed attempt counts).',
    labelNames: ['flow', 'code'],
    registers: [registry],
  })
  const runs = new Counter({
    name: 'bridge_runs_total',
    help: 'Finished runs by flow and final state.',
    labelNames: ['flow', 'state'],
    registers: [registry],
  })
  const durations = new Histogram({
    name: 'bridge_transfer_duration_seconds',
    help: 'Duration of one file transfer (remote read + S3 upload).',
    labelNames: ['flow'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
    registers: [registry],
  })
  const queue = new Gauge({
    name: 'bridge_queue_depth',
    help: 'Work waiting or in progress, as export admission counts it against queue.maxQueuedItems: files not finished plus export jobs not finished (paused ones included).',
    registers: [registry],
  })
  const apiUsed = new Gauge({
    name: 'bridge_salesforce_api_usage',
    help: 'Salesforce API requests used in the last 24 h (Sforce-Limit-Info).',
    registers: [registry],
  })
  const apiLimit = new Gauge({
    name: 'bridge_salesforce_api_limit',
    help: 'Salesforce API daily request limit (Sforce-Limit-Info).',
    registers: [registry],
  })
  const apiLimitPaused = new Gauge({
    name: 'bridge_salesforce_api_limit_paused',
    help: '1 while every Salesforce call waits because the org is at its API request limit, else 0.',
    registers: [registry],
  })
  const reviews = new Counter({
    name: 'bridge_review_events_total',
    help: 'Review loop steps by flow: rejected (returned to the partner), resubmitted, failed.',
    labelNames: ['flow', 'event'],
    registers: [registry],
  })
  const statusRows = new Counter({
    name: 'bridge_status_rows_total',
    help: 'Status-file rows by flow and outcome (applied, rejected).',
    labelNames: ['flow', 'outcome'],
    registers: [registry],
  })
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    fileFinished(flow, outcome, n) {
      files.inc({ flow, outcome })
      if (n > 0) bytes.inc({ flow, outcome }, n)
    },
    failure: (flow, code) => failures.inc({ flow, code }),
    transferDuration: (flow, seconds) => durations.observe({ flow }, seconds),
    queueDepth: (depth) => queue.set(depth),
    runFinished: (flow, state) => runs.inc({ flow, state }),
    apiUsage(usage) {
      apiUsed.set(usage.used)
      apiLimit.set(usage.limit)
    },
    apiLimitPaused: (paused) => apiLimitPaused.set(paused ? 1 : 0),
    reviewEvent: (flow, event) => reviews.inc({ flow, event }),
    statusRows(flow, outcome, count) {
      if (count > 0) statusRows.inc({ flow, outcome }, count)
    },
  }
}
