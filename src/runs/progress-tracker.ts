/**
 * Bytes in flight per run and the run-progress events SSE clients follow.
 * A progress event makes every SSE client of the run read the store, so
 * events are throttled per run (forced ones, on state changes, are not).
 */
import type { RunEvents } from './events.js'

const PROGRESS_INTERVAL_MS = 200

export interface ProgressTracker {
  /** Announces the run's progress (throttled unless forced). */
  announce(flow: string, runId: string, force?: boolean): void
  /** Bytes streamed so far for an item in flight. */
  streamed(flow: string, runId: string, itemId: string, bytes: number): void
  /** The item's bytes are no longer in flight (it ended, or its attempt did). */
  settledItem(runId: string, itemId: string): void
  inFlightBytes(runId: string): ReadonlyMap<string, number>
  /** Forgets the run (its driver stopped). */
  forget(runId: string): void
}

export function createProgressTracker(events: RunEvents): ProgressTracker {
  const inFlight = new Map<string, Map<string, number>>()
  const lastEmit = new Map<string, number>()

  const announce = (flow: string, runId: string, force = false) => {
    const now = Date.now()
    if (!force && now - (lastEmit.get(runId) ?? 0) < PROGRESS_INTERVAL_MS) return
    lastEmit.set(runId, now)
    events.emit({ type: 'run-progress', flow, runId })
  }

  return {
    announce,
    streamed(flow, runId, itemId, bytes) {
      let perRun = inFlight.get(runId)
      if (!perRun) {
        perRun = new Map()
        inFlight.set(runId, perRun)
      }
      perRun.set(itemId, bytes)
      announce(flow, runId)
    },
    settledItem(runId, itemId) {
      inFlight.get(runId)?.delete(itemId)
    },
    inFlightBytes: (runId) => inFlight.get(runId) ?? new Map(),
    forget(runId) {
      inFlight.delete(runId)
      lastEmit.delete(runId)
    },
  }
}
