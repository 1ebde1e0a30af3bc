/**
 * Bounded transfer queue: a global cap on concurrent transfers, a cap per
 * remote endpoint (FTP allows one transfer per connection, partners limit
 * connections), and a hard bound on waiting work. Full → QUEUE_FULL, which
 * the HTTP layer answers with 429 + Retry-After instead of growing memory.
 */
import PQueue from 'p-queue'
import { BridgeError } from '../domain/errors.js'

export interface TransferQueueOptions {
  concurrency: number
  maxWaiting: number
  endpointConcurrency: (endpoint: string) => number
}

export interface TransferQueue {
  run<T>(endpoint: string, task: () => Promise<T>): Promise<T>
  /** Waiting plus running tasks. */
  depth(): number
  hasRoom(extra?: number): boolean
  /** Resolves once nothing is running or waiting. */
  onIdle(): Promise<void>
  clear(): void
  /** Reads the endpoint's concurrency again (a reload changed its maxConnections). */
  resize(endpoint: string): void
}

export function createTransferQueue(options: TransferQueueOptions): TransferQueue {
  if (options.concurrency < 1) throw new RangeError('concurrency must be ≥ 1')
  const global = new PQueue({ concurrency: options.concurrency })
  const perEndpoint = new Map<string, PQueue>()
  let depth = 0

  const endpointQueue = (endpoint: string) => {
    let q = perEndpoint.get(endpoint)
    if (!q) {
      q = new PQueue({ concurrency: Math.max(1, options.endpointConcurrency(endpoint)) })
      perEndpoint.set(endpoint, q)
    }
    return q
  }

  return {
    async run<T>(endpoint: string, task: () => Promise<T>): Promise<T> {
      if (depth >= options.maxWaiting) {
        throw new BridgeError('QUEUE_FULL', `transfer queue is full (${depth} waiting or running)`, {
          transient: true,
        })
      }
      depth++
      try {
        // Take the endpoint slot first so a task waiting for a busy partner server
        // does not hold one of the global slots meanwhile.
        return (await endpointQueue(endpoint).add(() => global.add(task))) as T
      } finally {
        depth--
      }
    },
    depth: () => depth,
    hasRoom: (extra = 1) => depth + extra <= options.maxWaiting,
    async onIdle() {
      await Promise.all([global.onIdle(), ...[...perEndpoint.values()].map((q) => q.onIdle())])
    },
    resize(endpoint) {
      const q = perEndpoint.get(endpoint)
      if (q) q.concurrency = Math.max(1, options.endpointConcurrency(endpoint))
    },
    clear() {
      global.clear()
      for (const q of perEndpoint.values()) q.clear()
    },
  }
}
