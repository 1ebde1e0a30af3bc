/**
 * Background work keyed by id, at most one task per key: what every driver
 * needs to start work, find it again, wait for it and stop it. Closing
 * drains first (`drain` aborts: start nothing new, let what is in flight
 * finish), waits up to a grace period, then aborts the rest (`shutdown`).
 */
import { setMaxListeners } from 'node:events'
import { BridgeError } from '../domain/errors.js'

export interface TaskSet {
  /** Aborted when closing begins: start nothing new. */
  readonly drain: AbortSignal
  /** Aborted when the grace period ran out: stop at once. */
  readonly shutdown: AbortSignal
  readonly closed: boolean
  /** Distinct tasks running. */
  readonly size: number
  /** Starts the task under every key (one task may serve several); false when closed or a key is taken. */
  start(keys: readonly string[], task: () => Promise<void>): boolean
  has(key: string): boolean
  /** Resolves when the key's task has ended (at once when there is none). */
  settled(key: string): Promise<void>
  /** Idempotent; resolves once every task has ended. */
  close(graceMs?: number): Promise<void>
}

/** Waits for the promises to settle, but no longer than ms. */
export async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0 || ms <= 0) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.allSettled(promises),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms)
    }),
  ])
  clearTimeout(timer)
}

/** Listeners the process-wide signals may hold before Node warns: ~6 per operation in flight. */
const PROCESS_SIGNAL_LISTENERS = 1000

export function createTaskSet(): TaskSet {
  const tasks = new Map<string, Promise<void>>()
  const drain = new AbortController()
  const shutdown = new AbortController()
  // Every remote, S3 and Salesforce call of every run in flight listens on these two for as long
  // as it runs (and removes its listener after): 16 files at a time pass Node's default of 10 and
  // log a "possible memory leak" warning that is none. A leak would still show, past this bound.
  setMaxListeners(PROCESS_SIGNAL_LISTENERS, drain.signal, shutdown.signal)
  let closing: Promise<void> | null = null
  const running = () => [...new Set(tasks.values())]

  return {
    drain: drain.signal,
    shutdown: shutdown.signal,
    get closed() {
      return closing !== null
    },
    get size() {
      return new Set(tasks.values()).size
    },
    start(keys, task) {
      if (closing || keys.some((key) => tasks.has(key))) return false
      // The task's own failure is its business (it logs or records it); here it only ends the entry.
      const promise = task()
        .catch(() => undefined)
        .finally(() => {
          for (const key of keys) if (tasks.get(key) === promise) tasks.delete(key)
        })
      for (const key of keys) tasks.set(key, promise)
      return true
    },
    has: (key) => tasks.has(key),
    async settled(key) {
      await tasks.get(key)
    },
    close(graceMs = 0) {
      closing ??= (async () => {
        drain.abort(new BridgeError('CANCELLED', 'service is shutting down'))
        await settleWithin(running(), graceMs)
        shutdown.abort(new BridgeError('CANCELLED', 'service is shutting down'))
        await Promise.allSettled(running())
      })()
      return closing
    },
  }
}
