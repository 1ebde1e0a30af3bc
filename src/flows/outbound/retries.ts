/** A job step (planning, companions, write-back) retried with the flow's backoff. */
import type { OutboundFlow } from '../../config/schema.js'
import type { RunControl } from '../../runs/driver.js'
import { pauseWithoutAttempt, withRetries } from '../../runs/retry.js'
import type { OutboundDeps } from './deps.js'

/**
 * Transient faults are tried again up to the flow's maxAttempts (API limits
 * and a full queue without using attempts); draining stops the retries,
 * so the step's last fault is thrown to its caller.
 */
export function retryJobStep<T>(
  deps: OutboundDeps,
  flow: OutboundFlow,
  control: RunControl,
  step: { name: string; jobId: string },
  fn: () => Promise<T>,
): Promise<T> {
  return withRetries(fn, {
    policy: flow.retry,
    clock: deps.clock,
    signal: AbortSignal.any([control.signal, control.draining]),
    pauseFor: pauseWithoutAttempt(flow.retry.baseDelayMs),
    onRetry: (e, attempt) => {
      deps.events.emit({ type: 'fault', flow: flow.name, code: e.code, runId: step.jobId })
      deps.logger.warn(
        { job: step.jobId, code: e.code, attempt, step: step.name },
        `${step.name} failed; will retry`,
      )
    },
  })
}
