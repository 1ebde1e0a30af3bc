/** Turns the run event stream into the metrics the Prometheus adapter exposes. */
import type { BridgeMetrics } from '../../ports/metrics.js'
import type { RunEvent, RunEvents } from '../events.js'

export function recordMetrics(metrics: BridgeMetrics, event: RunEvent): void {
  switch (event.type) {
    case 'item-finished':
      metrics.fileFinished(event.flow, event.outcome, event.bytes)
      return
    case 'fault':
      metrics.failure(event.flow, event.code)
      return
    case 'transfer-timed':
      metrics.transferDuration(event.flow, event.seconds)
      return
    case 'run-finished':
      metrics.runFinished(event.flow, event.state)
      return
    case 'review':
      metrics.reviewEvent(event.flow, event.step)
      return
    case 'status-rows':
      metrics.statusRows(event.flow, event.outcome, event.count)
      return
    case 'api-limit':
      metrics.apiLimitPaused(event.paused)
      return
    default:
      return
  }
}

export function subscribeMetrics(events: RunEvents, metrics: BridgeMetrics): () => void {
  return events.subscribe((event) => recordMetrics(metrics, event))
}
