/**
 * Endpoint connection slots as PostgreSQL session advisory locks: slot i of
 * an endpoint is the lock (endpoint key, i), held on a database connection
 * of its own for as long as the remote connection lives. A replica that
 * dies drops its database connections and with them its slots, so no slot
 * stays taken by a process that is gone. Waiting is polling with jitter:
 * slots free up when a remote connection closes, which is rare enough.
 */
import { createHash } from 'node:crypto'
import pg from 'pg'
import { BridgeError } from '../../domain/errors.js'
import type { ConnectionSlots } from '../../ports/connection-slots.js'

export interface PostgresSlotsOptions {
  url: string
  schema?: string
  /** Database connections for held slots: the sum of the endpoints' maxConnections is enough. */
  poolSize?: number
  /** Longest pause between two looks for a free slot. */
  maxPollMs?: number
}

function endpointKey(schema: string, endpoint: string): number {
  return createHash('sha256')
    .update(`sdrive-ftp-bridge:endpoint:${schema}:${endpoint}`)
    .digest()
    .readInt32BE(0)
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export function createPostgresSlots(options: PostgresSlotsOptions): ConnectionSlots {
  const schema = options.schema ?? 'public'
  const maxPollMs = options.maxPollMs ?? 500
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 64,
    connectionTimeoutMillis: 10_000,
    application_name: 'sdrive-ftp-bridge-slots',
  })
  pool.on('error', () => {})
  let closed = false
  /** Clients holding a slot: closing drops their connections, which frees the locks. */
  const holding = new Set<pg.PoolClient>()

  async function tryTake(key: number, max: number): Promise<(() => Promise<void>) | null> {
    const client = await pool.connect()
    try {
      for (let slot = 0; slot < max; slot++) {
        const { rows } = await client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock($1::int, $2::int) AS ok',
          [key, slot],
        )
        if (rows[0]?.ok) {
          let released = false
          holding.add(client)
          return async () => {
            if (released || !holding.delete(client)) return
            released = true
            await client.query('SELECT pg_advisory_unlock($1::int, $2::int)', [key, slot]).then(
              () => client.release(),
              // An unlock that failed: drop the connection, which frees the lock with it.
              (error: Error) => client.release(error),
            )
          }
        }
      }
    } catch (error) {
      client.release(error as Error)
      throw new BridgeError('INTERNAL', `connection slots unavailable: ${(error as Error).message}`, {
        transient: true,
        cause: error,
      })
    }
    client.release()
    return null
  }

  return {
    async acquire(endpoint, max, signal) {
      const key = endpointKey(schema, endpoint)
      for (let wait = 25; ; wait = Math.min(maxPollMs, wait * 2)) {
        if (closed) throw new BridgeError('CANCELLED', 'connection slots are closed')
        signal?.throwIfAborted()
        const release = await tryTake(key, max)
        if (release) return release
        await sleep(wait / 2 + Math.random() * (wait / 2), signal)
      }
    },
    async close() {
      closed = true
      for (const client of holding) client.release(true)
      holding.clear()
      await pool.end()
    },
  }
}
