/** Retry delays: exponential growth capped at maxMs, with "full jitter" (uniform in [0, cap]). */
export interface BackoffOptions {
  baseMs: number
  maxMs: number
}

/**
 * Delay before retry number `attempt` (0 for the first retry). Full jitter
 * spreads clients that failed together so they do not retry in lockstep.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, Math.floor(attempt))
  // 2 ** 1024 is Infinity; Math.min keeps the cap finite for any attempt.
  const cap = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(exponent, 1023))
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.floor(cap * r)
}
