/**
 * Runs one remote operation on a pooled connection: a deadline, cancellation,
 * stall detection for transfers, error mapping, and the single retry allowed
 * when a reused connection turns out dead before the operation did anything.
 */
import type { Logger } from 'pino'
import type { BridgeError } from '../../domain/errors.js'
import { cancelledError, stalledError, timeoutError } from './failures.js'
import type { ConnectionPool } from './pool.js'

/** A progress sample for the stall watchdog. */
export interface ProgressProbe {
  /** Bytes moved so far; any change counts as progress. */
  bytes: number
  /** True while our side (consumer or source) holds the transfer up: not the server's fault. */
  waitingOnLocal: boolean
}

export interface OperationControl {
  /** The connection was opened for this operation rather than reused. */
  readonly fresh: boolean
  /** From here on a lost connection is not retried: the server may already have acted. */
  commit(): void
  /** Fails the operation with `error` and tears its connection down. */
  fail(error: BridgeError): void
  /** The error the operation was failed with, once it was. */
  readonly failure: BridgeError | undefined
  /** Keeps the connection checked out until `work` settles, even if the operation fails first. */
  hold(work: Promise<unknown>): void
  /** Replaces the whole-operation deadline by "no progress for that long". */
  watch(probe: () => ProgressProbe): void
}

/** Thrown by a body to pass a caller-side error (the consumer's, the source's) through unmapped. */
export class CallerFailure {
  constructor(readonly error: unknown) {}
}

export interface OperationSettings<C> {
  pool: ConnectionPool<C>
  name: string
  signal?: AbortSignal | undefined
  timeoutMs: number
  /** Abrupt teardown: makes every pending call on the connection settle. */
  kill(conn: C): void
  toError(error: unknown): BridgeError
  logger: Logger
}

const discardCodes = new Set(['CONNECTION_LOST', 'TIMEOUT', 'CANCELLED'])

export async function runOperation<C, T>(
  settings: OperationSettings<C>,
  body: (conn: C, control: OperationControl) => Promise<T>,
): Promise<T> {
  const { pool, signal, timeoutMs } = settings
  for (let attempt = 1; ; attempt++) {
    const lease = await pool.acquire({ signal })
    let committed = false
    let failure: BridgeError | undefined
    let rejectFailed: (error: BridgeError) => void = () => {}
    const failed = new Promise<never>((_, reject) => {
      rejectFailed = reject
    })
    const held: Promise<unknown>[] = []
    let deadline: NodeJS.Timeout | undefined
    let watchdog: NodeJS.Timeout | undefined

    const fail = (error: BridgeError) => {
      if (failure) return
      failure = error
      settings.kill(lease.conn)
      rejectFailed(error)
    }
    const onAbort = () => fail(cancelledError(signal))
    signal?.addEventListener('abort', onAbort, { once: true })
    if (signal?.aborted) onAbort()
    deadline = setTimeout(() => fail(timeoutError(settings.name, timeoutMs)), timeoutMs)

    const control: OperationControl = {
      fresh: lease.fresh,
      commit: () => {
        committed = true
      },
      fail,
      get failure() {
        return failure
      },
      hold: (work) => {
        held.push(work)
      },
      watch: (probe) => {
        clearTimeout(deadline)
        deadline = undefined
        // Counting checks rather than wall time: a blocked event loop is not the server stalling.
        const intervalMs = Math.max(1, Math.min(Math.floor(timeoutMs / 4), 500))
        let last = probe().bytes
        let idleMs = 0
        watchdog = setInterval(() => {
          const sample = probe()
          if (sample.waitingOnLocal || sample.bytes !== last) {
            last = sample.bytes
            idleMs = 0
            return
          }
          idleMs += intervalMs
          if (idleMs >= timeoutMs) fail(stalledError(settings.name, timeoutMs))
        }, intervalMs)
        watchdog.unref()
      },
    }

    try {
      const result = await Promise.race([body(lease.conn, control), failed])
      await Promise.allSettled(held)
      lease.release(false)
      return result
    } catch (error) {
      await Promise.allSettled(held)
      if (error instanceof CallerFailure) {
        lease.release(failure !== undefined)
        throw failure ?? error.error
      }
      const mapped = failure ?? settings.toError(error)
      lease.release(discardCodes.has(mapped.code))
      const stale = !lease.fresh && !committed && failure === undefined && mapped.code === 'CONNECTION_LOST'
      if (attempt === 1 && stale) {
        settings.logger.debug({ op: settings.name, err: mapped }, 'pooled connection was dead; retrying once')
        continue
      }
      throw mapped
    } finally {
      clearTimeout(deadline)
      clearInterval(watchdog)
      signal?.removeEventListener('abort', onAbort)
    }
  }
}
