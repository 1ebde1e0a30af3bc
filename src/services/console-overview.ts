/**
 * The console's overview: every flow with its last run and recent
 * failures, and files per hour over the last days. A fixed number of
 * indexed queries per flow, whatever the store holds.
 */
import type { Flow } from '../config/schema.js'
import type { OutcomeBucket, RunCounts, RunRecord, Store } from '../ports/store.js'

const HOUR_MS = 3_600_000
export const CHART_HOURS = 7 * 24

export interface FlowOverview {
  name: string
  kind: Flow['kind']
  endpoint: string
  schedule: string | null
  nextTick: string | null
  lastRun: { run: RunRecord; counts: RunCounts } | null
  /** Files that failed in the last 24 hours (whole hours). */
  failures24h: number
}

export interface HourBar {
  hour: string
  done: number
  failed: number
}

export interface Overview {
  flows: FlowOverview[]
  /** One bar per hour, oldest first, CHART_HOURS of them, ending with the current hour. */
  chart: HourBar[]
}

const startOfHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS

export function hourlyBars(buckets: readonly OutcomeBucket[], nowMs: number, hours: number): HourBar[] {
  const last = startOfHour(nowMs)
  const bars = new Map<string, HourBar>()
  for (let i = hours - 1; i >= 0; i--) {
    const hour = new Date(last - i * HOUR_MS).toISOString()
    bars.set(hour, { hour, done: 0, failed: 0 })
  }
  for (const bucket of buckets) {
    const bar = bars.get(bucket.hour)
    if (!bar) continue
    bar.done += bucket.done
    bar.failed += bucket.failed
  }
  return [...bars.values()]
}

export async function buildOverview(deps: {
  store: Store
  flows: readonly Flow[]
  nextTick: (flow: string) => string | null
  nowMs: number
}): Promise<Overview> {
  const { store, nowMs } = deps
  const chartStart = startOfHour(nowMs) - (CHART_HOURS - 1) * HOUR_MS
  const buckets = await store.outcomeHistogram({ since: new Date(chartStart).toISOString() })
  const dayStart = new Date(startOfHour(nowMs) - 23 * HOUR_MS).toISOString()
  const flows = await Promise.all(
    deps.flows.map(async (flow): Promise<FlowOverview> => {
      const [last] = (await store.listRuns({ flow: flow.name, limit: 1 })).runs
      const schedule = flow.kind === 'outbound' ? flow.window : flow.schedule
      return {
        name: flow.name,
        kind: flow.kind,
        endpoint: flow.kind === 'outbound' ? flow.destination.endpoint : flow.source.endpoint,
        schedule: schedule ? `${schedule.cron} (${schedule.timezone})` : null,
        nextTick: deps.nextTick(flow.name),
        lastRun: last ? { run: last, counts: await store.runCounts(last.id) } : null,
        failures24h: buckets
          .filter((b) => b.flow === flow.name && b.hour >= dayStart)
          .reduce((sum, b) => sum + b.failed, 0),
      }
    }),
  )
  return { flows, chart: hourlyBars(buckets, nowMs, CHART_HOURS) }
}
