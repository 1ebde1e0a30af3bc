/**
 * What an attempt is. An attempt is one real try of one file: it starts
 * when the upload queue hands the file to a worker, and only a fault of that
 * file's own transfer (its upload request, its bytes, its completion) uses
 * it up. A transfer cut because its process died, stopped or lost the run
 * to another replica (a takeover) costs no attempt; it counts as an
 * interruption instead, bounded separately so a file whose transfer brings
 * its process down every time cannot go round forever.
 */
import { backoffDelay } from './backoff.js'

export interface RetryPolicy {
  maxAttempts: number
  baseDelayMs: number
  maxDelayMs: number
}

/**
 * Takeovers one file's transfer may be cut by before it fails with
 * TRANSFER_INTERRUPTED. Generous: replicas are killed and redeployed for
 * reasons that have nothing to do with the file.
 */
export const MAX_INTERRUPTIONS = 20

/** After a fault on the file's `attempts`-th try: the delay before the next try, or null to fail it. */
export function retryDelayAfterFault(
  attempts: number,
  transient: boolean,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number | null {
  if (!transient || attempts >= policy.maxAttempts) return null
  return backoffDelay(attempts - 1, { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs }, random)
}

/** Whether a file whose transfer has now been cut `interruptions` times has had enough. */
export function interruptionsExhausted(interruptions: number): boolean {
  return interruptions >= MAX_INTERRUPTIONS
}
