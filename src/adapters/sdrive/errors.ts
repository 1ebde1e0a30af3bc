import { BridgeError, isBridgeError, toBridgeError } from '../../domain/errors.js'

/** Statuses S-Drive documents for bad input (it uses 403 for malformed input, not 400). */
const rejectedStatuses: ReadonlySet<number> = new Set([400, 403, 404, 406, 412, 422])

/**
 * Re-labels a generic Salesforce error from an S-Drive call. Platform-level
 * codes (limits, auth, availability, timeouts, cancel) keep their meaning.
 */
export function sdriveError(error: unknown, what: string): BridgeError {
  if (!isBridgeError(error)) return toBridgeError(error, 'SDRIVE_ERROR')
  if (error.code !== 'SALESFORCE_ERROR') return error
  const status = error.details?.status
  const code = typeof status === 'number' && rejectedStatuses.has(status) ? 'SDRIVE_REJECTED' : 'SDRIVE_ERROR'
  return new BridgeError(code, `S-Drive ${what} failed: ${error.message}`, {
    ...(error.details ? { details: error.details } : {}),
    cause: error,
  })
}

export function statusOf(error: unknown): number | undefined {
  if (!isBridgeError(error)) return undefined
  const status = error.details?.status
  return typeof status === 'number' ? status : undefined
}
