/** Time, injectable so tests drive schedules and backoff without waiting. */
export interface Clock {
  now(): number
  /** Resolves after `ms`, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}
