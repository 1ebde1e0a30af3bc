/**
 * Which PostgreSQL failures are worth retrying, shared by the PostgreSQL
 * store, run leases and anything else that talks to the same database.
 */
import { BridgeError } from '../../domain/errors.js'

/** Server states worth retrying: lost connection, shutdown, overload, deadlock, timeout. */
const transientSqlStates: ReadonlySet<string> = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
  '55P03', // lock_not_available
  '57014', // query_canceled (statement_timeout)
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
])

const transientNetworkCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
])

/**
 * An unreachable or overloaded database is worth retrying, not a bug, like a
 * busy SQLite file; anything else (a constraint, bad SQL) is thrown as it is.
 */
export function translateError(error: unknown): unknown {
  if (error instanceof BridgeError || !(error instanceof Error)) return error
  const code = (error as { code?: unknown }).code
  const transient =
    (typeof code === 'string' &&
      (code.startsWith('08') || transientSqlStates.has(code) || transientNetworkCodes.has(code))) ||
    // pg's own connection failures carry no code, only these messages.
    /^Connection terminated|timeout exceeded when trying to connect/.test(error.message)
  if (!transient) return error
  return new BridgeError('INTERNAL', `store unavailable: ${error.message || String(code)}`, {
    transient: true,
    cause: error,
  })
}
