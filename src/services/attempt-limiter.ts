/**
 * A fixed-window counter per client: at most `perMinute` attempts in each
 * minute. In memory and per process (each replica counts its own), bounded
 * so a flood of addresses cannot grow it without end.
 */
export interface AttemptLimiter {
  /** Counts an attempt; returns the seconds to wait when over the limit, else 0. */
  attempt(client: string): number
}

const WINDOW_MS = 60_000
const MAX_CLIENTS = 10_000

export function createAttemptLimiter(options: { perMinute: number; now: () => number }): AttemptLimiter {
  const windows = new Map<string, { start: number; count: number }>()
  return {
    attempt(client) {
      const now = options.now()
      let window = windows.get(client)
      if (!window || now - window.start >= WINDOW_MS) {
        windows.delete(client)
        // Maps iterate in insertion order: the first key is the oldest window.
        if (windows.size >= MAX_CLIENTS) windows.delete(windows.keys().next().value as string)
        window = { start: now, count: 0 }
        windows.set(client, window)
      }
      window.count++
      if (window.count <= options.perMinute) return 0
      return Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000))
    },
  }
}
