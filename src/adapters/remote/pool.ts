/**
 * A small connection pool for one endpoint. At most `maxConnections` live
 * connections exist at any time (FTP allows one transfer per connection, and
 * servers cap sessions per user); callers beyond that wait in FIFO order.
 *
 * Holding a permit is what bounds the count: a holder always takes an idle
 * connection before creating one, so idle + busy never exceeds the cap.
 */
import type { Logger } from 'pino'
import { BridgeError } from '../../domain/errors.js'
import { cancelledError } from './failures.js'

/** How long an idle connection keeps a slot shared with other replicas before it is closed. */
export const SHARED_SLOT_IDLE_MS = 1000

export interface ConnectionPoolOptions<C> {
  name: string
  maxConnections: number
  idleCloseMs: number
  /** Interval for `ping` on idle connections; omit `ping` when the protocol keeps itself alive. */
  keepaliveIntervalMs: number
  /** Opens and logs in a connection; must honour the signal and its own connect deadline. */
  create(signal: AbortSignal | undefined): Promise<C>
  /** Tears a connection down; graceful when possible, never throws for a dead one. */
  destroy(conn: C): Promise<void>
  isAlive(conn: C): boolean
  ping?: (conn: C) => Promise<void>
  logger: Logger
  /**
   * The endpoint's connection slots shared with other processes (replicas):
   * a connection is opened only with a slot, and gives it back when closed,
   * so the endpoint's cap holds across processes, not just in this one.
   */
  slots?: EndpointSlots
}

/** What the SFTP/FTP adapters take besides the endpoint's configuration. */
export interface RemoteFilesOptions {
  /** Connection slots shared with other replicas (PostgreSQL); none for a single instance. */
  slots?: EndpointSlots
}

export interface EndpointSlots {
  /** Waits for a free slot; resolves with the function that frees it. */
  acquire(signal: AbortSignal | undefined): Promise<() => Promise<void>>
}

export interface Lease<C> {
  readonly conn: C
  /** True when the connection was opened for this lease rather than reused. */
  readonly fresh: boolean
  /** Returns the connection; `discard` (or a dead connection) closes it instead. */
  release(discard: boolean): void
}

export interface AcquireOptions {
  signal?: AbortSignal | undefined
  /** Epoch ms by which a permit must be granted; waiting longer fails with TIMEOUT. */
  deadline?: number | undefined
}

export interface CloseOptions {
  /** Tear down checked-out connections too instead of waiting for their work. */
  force?: boolean
}

export interface PoolStats {
  live: number
  idle: number
  busy: number
  waiting: number
}

export interface ConnectionPool<C> {
  acquire(options?: AcquireOptions): Promise<Lease<C>>
  stats(): PoolStats
  close(options?: CloseOptions): Promise<void>
}

interface Waiter {
  grant(): void
  fail(error: BridgeError): void
}

interface IdleEntry<C> {
  conn: C
  timers: NodeJS.Timeout[]
  /** The idle period ran out while a keepalive ping had the connection out. */
  expired: boolean
}

export function createConnectionPool<C>(options: ConnectionPoolOptions<C>): ConnectionPool<C> {
  const { maxConnections, logger } = options
  const idle: IdleEntry<C>[] = []
  const busy = new Set<C>()
  const waiters: Waiter[] = []
  let permits = 0
  let closing: Promise<void> | undefined
  let drained: (() => void) | undefined

  const closedError = () => new BridgeError('CANCELLED', `endpoint ${options.name} is closed`)

  const slotReleases = new Map<C, () => Promise<void>>()
  // An idle connection holding a shared slot keeps every other replica from opening one: it goes
  // after a second instead of idleCloseMs (measured: export jobs on one replica waited ~39 s for
  // the slots of another's idle connections). Busy connections are reused within milliseconds.
  const idleMs = options.slots ? Math.min(options.idleCloseMs, SHARED_SLOT_IDLE_MS) : options.idleCloseMs

  /** Opens a connection once a shared slot is free (when there are shared slots). */
  async function create(signal: AbortSignal | undefined): Promise<C> {
    const releaseSlot = options.slots ? await options.slots.acquire(signal) : null
    try {
      const conn = await options.create(signal)
      if (releaseSlot) slotReleases.set(conn, releaseSlot)
      return conn
    } catch (error) {
      await releaseSlot?.()
      throw error
    }
  }

  async function destroy(conn: C): Promise<void> {
    try {
      await options.destroy(conn)
    } finally {
      const releaseSlot = slotReleases.get(conn)
      slotReleases.delete(conn)
      await releaseSlot?.()
    }
  }

  function destroyQuietly(conn: C): void {
    destroy(conn).catch((error: unknown) => {
      logger.warn({ err: error, endpoint: options.name }, 'closing a remote connection failed')
    })
  }

  function releasePermit(): void {
    permits--
    const next = waiters.shift()
    if (next) {
      permits++
      next.grant()
    } else if (permits === 0 && drained) {
      drained()
    }
  }

  function removeIdle(entry: IdleEntry<C>): boolean {
    const index = idle.indexOf(entry)
    if (index === -1) return false
    idle.splice(index, 1)
    for (const timer of entry.timers) clearTimeout(timer)
    return true
  }

  function park(conn: C): void {
    const entry: IdleEntry<C> = { conn, timers: [], expired: false }
    const closeTimer = setTimeout(() => {
      if (removeIdle(entry)) destroyQuietly(conn)
      else entry.expired = true
    }, idleMs)
    closeTimer.unref()
    entry.timers.push(closeTimer)
    const ping = options.ping
    if (ping && options.keepaliveIntervalMs < idleMs) {
      const pingTimer = setInterval(() => {
        // A ping needs the connection to itself and must not push the count over the cap.
        if (permits >= maxConnections || !idle.includes(entry)) return
        idle.splice(idle.indexOf(entry), 1)
        permits++
        ping(conn).then(
          () => {
            if (closing || entry.expired || !options.isAlive(conn)) {
              for (const timer of entry.timers) clearTimeout(timer)
              destroyQuietly(conn)
            } else {
              idle.push(entry)
            }
            releasePermit()
          },
          (error: unknown) => {
            for (const timer of entry.timers) clearTimeout(timer)
            logger.debug({ err: error, endpoint: options.name }, 'keepalive failed; connection dropped')
            destroyQuietly(conn)
            releasePermit()
          },
        )
      }, options.keepaliveIntervalMs)
      pingTimer.unref()
      entry.timers.push(pingTimer)
    }
    idle.push(entry)
  }

  function waitForPermit(acquire: AcquireOptions): Promise<void> {
    if (permits < maxConnections && waiters.length === 0) {
      permits++
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const { signal, deadline } = acquire
      let timer: NodeJS.Timeout | undefined
      const cleanup = () => {
        if (timer) clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const waiter: Waiter = {
        grant: () => {
          cleanup()
          resolve()
        },
        fail: (error) => {
          cleanup()
          reject(error)
        },
      }
      const leave = (error: BridgeError) => {
        const index = waiters.indexOf(waiter)
        if (index !== -1) waiters.splice(index, 1)
        waiter.fail(error)
      }
      const onAbort = () => leave(cancelledError(signal))
      signal?.addEventListener('abort', onAbort, { once: true })
      if (deadline !== undefined) {
        timer = setTimeout(
          () =>
            leave(
              new BridgeError('TIMEOUT', `no free connection to ${options.name} in time`, {
                transient: true,
              }),
            ),
          Math.max(0, deadline - Date.now()),
        )
      }
      waiters.push(waiter)
    })
  }

  function makeLease(conn: C, fresh: boolean): Lease<C> {
    busy.add(conn)
    let released = false
    return {
      conn,
      fresh,
      release(discard) {
        if (released) return
        released = true
        busy.delete(conn)
        if (discard || closing || !options.isAlive(conn)) destroyQuietly(conn)
        else park(conn)
        releasePermit()
      },
    }
  }

  async function acquire(acquireOptions: AcquireOptions = {}): Promise<Lease<C>> {
    if (closing) throw closedError()
    if (acquireOptions.signal?.aborted) throw cancelledError(acquireOptions.signal)
    await waitForPermit(acquireOptions)
    if (closing) {
      releasePermit()
      throw closedError()
    }
    // Most recently used first: the others then age out through idleCloseMs.
    for (let entry = idle.at(-1); entry; entry = idle.at(-1)) {
      removeIdle(entry)
      if (options.isAlive(entry.conn)) return makeLease(entry.conn, false)
      destroyQuietly(entry.conn)
    }
    let conn: C
    try {
      conn = await create(acquireOptions.signal)
    } catch (error) {
      releasePermit()
      throw error
    }
    if (closing) {
      destroyQuietly(conn)
      releasePermit()
      throw closedError()
    }
    return makeLease(conn, true)
  }

  function close(closeOptions: CloseOptions = {}): Promise<void> {
    if (closing) return closing
    closing = (async () => {
      for (const waiter of waiters.splice(0)) waiter.fail(closedError())
      for (const entry of idle.splice(0)) {
        for (const timer of entry.timers) clearTimeout(timer)
        await destroy(entry.conn).catch((error: unknown) => {
          logger.warn({ err: error, endpoint: options.name }, 'closing an idle connection failed')
        })
      }
      if (closeOptions.force) for (const conn of busy) destroyQuietly(conn)
      if (permits > 0) await new Promise<void>((resolve) => (drained = resolve))
    })()
    return closing
  }

  return {
    acquire,
    close,
    stats: () => ({
      live: idle.length + busy.size,
      idle: idle.length,
      busy: busy.size,
      waiting: waiters.length,
    }),
  }
}
