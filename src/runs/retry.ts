/**
 * One step of a run retried with the flow's backoff: transient faults are
 * tried again up to maxAttempts; faults that pause work (the org at its API
 * limit, a full transfer queue) wait without using an attempt; anything
 * else, or an abort, is thrown to the caller.
 */
import { type RetryPolicy, retryDelayAfterFault } from '../domain/attempts.js'
import { type BridgeError, type ErrorCode, isTransient, toBridgeError } from '../domain/errors.js'
import type { Clock } from '../ports/clock.js'

export interface RetryOptions {
  policy: RetryPolicy
  clock: Clock
  /** Aborting it stops the waits; a fault met once it is aborted is thrown as it is. */
  signal: AbortSignal
  /** Attempts this work used before (it resumed after a restart). */
  attemptsUsed?: number
  /** Code to give a fault that has none (a plain Error). */
  defaultCode?: ErrorCode
  /** A fault that pauses without using an attempt, and for how long; null: it is an ordinary fault. */
  pauseFor?: (error: BridgeError) => number | null
  /** Told before each wait (`attempt` is the one that failed): log it, count it, record it. */
  onRetry?: (error: BridgeError, attempt: number) => void | Promise<void>
}

/** Faults that pause work instead of using up its attempts: a full queue, an org at its API limit. */
export function pauseWithoutAttempt(baseDelayMs: number): (error: BridgeError) => number | null {
  return (error) =>
    error.code === 'QUEUE_FULL' || error.code === 'API_LIMIT_EXCEEDED' ? Math.max(baseDelayMs, 100) : null
}

export async function withRetries<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = (options.attemptsUsed ?? 0) + 1; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      if (options.signal.aborted) throw error
      const e = toBridgeError(error, options.defaultCode)
      const pause = options.pauseFor?.(e) ?? null
      const delay = pause ?? retryDelayAfterFault(attempt, isTransient(e), options.policy)
      if (delay === null) throw e
      if (pause !== null) attempt--
      await options.onRetry?.(e, attempt)
      await options.clock.sleep(delay, options.signal)
    }
  }
}
