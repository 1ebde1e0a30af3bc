/**
 * The pruner: deletes what retention allows (finished runs with their items,
 * finished export jobs, closed reviews, idempotency keys with their runs) in
 * small batches, off the hot path. One pass shortly after start, then one per
 * interval. Each batch is one short transaction; the pruner yields to the
 * event loop between batches, so transfers and API writes (and the SQLite
 * group commit) interleave with it instead of waiting for a whole pass. With
 * replicas on PostgreSQL a batch takes an advisory lock; a replica that finds
 * it taken leaves the pass to the one holding it.
 */
import { setTimeout as sleep, setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { RetentionConfig } from '../config/schema.js'
import { toBridgeError } from '../domain/errors.js'
import { retentionCutoffs } from '../domain/retention.js'
import type { Clock } from '../ports/clock.js'
import type { RetentionKind } from '../ports/metrics.js'
import type { PrunedRuns, PruneRunsQuery, Store } from '../ports/store.js'

export interface RetentionPass {
  /** Rows deleted, by kind. */
  pruned: Record<RetentionKind, number>
  batches: number
  /** Another replica was pruning: this pass stopped early and left the rest to it. */
  busy: boolean
  durationMs: number
}

export interface RetentionService {
  /** One pass now (tests, and the timer). Passes never overlap: a second call waits for the first. */
  pruneNow(): Promise<RetentionPass>
  /** First pass after startDelayMs, then every intervalMs (real time; cutoffs use the clock), until close(). */
  start(): void
  /** Stops the timer and waits for a batch in progress to end. */
  close(): Promise<void>
}

export interface RetentionDeps {
  store: Store
  clock: Clock
  logger: Logger
  config: RetentionConfig
  /** Outbound flows: their runs are export jobs, with a retention of their own. */
  exportFlows: readonly string[]
  onPruned?: (kind: RetentionKind, rows: number) => void
}

export function createRetentionService(deps: RetentionDeps): RetentionService {
  const { store, clock, logger, config } = deps
  const stop = new AbortController()
  let loop: Promise<void> | null = null
  let current: Promise<RetentionPass> | null = null

  async function pruneRunsOf(
    pass: RetentionPass,
    kind: 'runs' | 'export_jobs',
    query: Omit<PruneRunsQuery, 'limit'>,
  ): Promise<void> {
    while (!stop.signal.aborted && !pass.busy) {
      const result: PrunedRuns = await store.pruneRuns({ ...query, limit: config.batchSize })
      pass.batches += 1
      pass.busy = result.busy
      count(pass, kind, result.runs)
      count(pass, 'items', result.items)
      count(pass, 'idempotency_keys', result.idempotencyKeys)
      if (result.runs < config.batchSize) return
      await yieldToEventLoop()
    }
  }

  async function pruneReviews(pass: RetentionPass, updatedBefore: string): Promise<void> {
    while (!stop.signal.aborted && !pass.busy) {
      const result = await store.pruneReviews({ updatedBefore, limit: config.batchSize })
      pass.batches += 1
      pass.busy = result.busy
      count(pass, 'reviews', result.reviews)
      if (result.reviews < config.batchSize) return
      await yieldToEventLoop()
    }
  }

  function count(pass: RetentionPass, kind: RetentionKind, rows: number): void {
    if (rows === 0) return
    pass.pruned[kind] += rows
    deps.onPruned?.(kind, rows)
  }

  async function onePass(): Promise<RetentionPass> {
    const started = clock.now()
    const cutoffs = retentionCutoffs(started, config)
    const pass: RetentionPass = {
      pruned: { runs: 0, items: 0, export_jobs: 0, idempotency_keys: 0, reviews: 0 },
      batches: 0,
      busy: false,
      durationMs: 0,
    }
    const keysCreatedBefore = cutoffs.keysCreatedBefore
    if (cutoffs.runsFinishedBefore !== null) {
      await pruneRunsOf(pass, 'runs', {
        finishedBefore: cutoffs.runsFinishedBefore,
        keysCreatedBefore,
        flows: { except: deps.exportFlows },
      })
    }
    if (cutoffs.exportJobsFinishedBefore !== null && deps.exportFlows.length > 0) {
      await pruneRunsOf(pass, 'export_jobs', {
        finishedBefore: cutoffs.exportJobsFinishedBefore,
        keysCreatedBefore,
        flows: { only: deps.exportFlows },
      })
    }
    if (cutoffs.reviewsUpdatedBefore !== null) await pruneReviews(pass, cutoffs.reviewsUpdatedBefore)
    pass.durationMs = clock.now() - started
    const total = Object.values(pass.pruned).reduce((a, b) => a + b, 0)
    if (total > 0 || pass.busy) logger.info({ ...pass }, 'retention pass')
    return pass
  }

  function pruneNow(): Promise<RetentionPass> {
    const previous = current ?? Promise.resolve(null)
    const next = previous.catch(() => null).then(onePass)
    current = next
    return next
  }

  async function timerLoop(): Promise<void> {
    let wait = config.startDelayMs
    for (;;) {
      // Real time, not the injected clock: a virtual clock that jumps on sleep would spin this loop.
      try {
        await sleep(wait, undefined, { signal: stop.signal, ref: false })
      } catch {
        return
      }
      wait = config.intervalMs
      try {
        await pruneNow()
      } catch (error) {
        // The store was unreachable or busy: try again next interval; nothing is lost by waiting.
        const e = toBridgeError(error)
        logger.warn({ code: e.code, err: e.message }, 'retention pass failed; retrying next interval')
      }
    }
  }

  return {
    pruneNow,
    start() {
      if (loop || stop.signal.aborted) return
      loop = timerLoop()
    },
    async close() {
      stop.abort()
      await loop
      await current?.catch(() => {})
    },
  }
}
