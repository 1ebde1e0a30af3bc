/** Turns whatever a Salesforce call threw into a BridgeError with a stable code. */
import { BridgeError, isBridgeError } from '../../domain/errors.js'
import { describeNetworkError, networkErrorCode } from './auth.js'
import type { CallContext } from './context.js'

interface SalesforceErrorItem {
  errorCode?: unknown
  message?: unknown
  fields?: unknown
}

/** jsforce's HttpApiError: errorCode + data (one error object or, for MULTIPLE_API_ERRORS, the array). */
function salesforceErrorParts(error: Error & { errorCode?: unknown; data?: unknown }): {
  code: string
  message: string
  fields?: unknown
} {
  const data = error.data
  const first: SalesforceErrorItem | undefined = Array.isArray(data)
    ? (data[0] as SalesforceErrorItem | undefined)
    : (data as SalesforceErrorItem | undefined)
  const code =
    typeof first?.errorCode === 'string'
      ? first.errorCode
      : typeof error.errorCode === 'string'
        ? error.errorCode
        : 'UNKNOWN'
  const message = typeof first?.message === 'string' ? first.message : error.message
  return { code, message, fields: first?.fields }
}

export function abortError(external: AbortSignal | undefined, what: string, timeoutMs: number): BridgeError {
  if (external?.aborted) return new BridgeError('CANCELLED', `${what} cancelled`)
  return new BridgeError('TIMEOUT', `${what} exceeded its ${timeoutMs} ms deadline`, { transient: true })
}

/** Codes of errors raised before a request reached the server, so even a POST can be resent. */
export const notSentCodes: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])

export function mapSalesforceError(
  error: unknown,
  ctx: CallContext,
  external: AbortSignal | undefined,
  what: string,
  timeoutMs: number,
): BridgeError {
  if (ctx.signal.aborted) return abortError(external, what, timeoutMs)
  if (ctx.authError) return ctx.authError
  if (isBridgeError(error)) return error
  const status = ctx.lastStatus
  const err = error instanceof Error ? (error as Error & { errorCode?: unknown; data?: unknown }) : undefined
  if (err && (err.errorCode !== undefined || err.data !== undefined)) {
    const { code, message, fields } = salesforceErrorParts(err)
    const details = { status, salesforceCode: code, ...(fields === undefined ? {} : { fields }) }
    if (code === 'REQUEST_LIMIT_EXCEEDED') {
      return new BridgeError('API_LIMIT_EXCEEDED', `Salesforce API request limit reached: ${message}`, {
        transient: true,
        details,
        cause: error,
      })
    }
    if (code === 'INVALID_SESSION_ID' || status === 401) {
      return new BridgeError('SESSION_EXPIRED', `${what}: ${message}`, {
        transient: true,
        details,
        cause: error,
      })
    }
    if (status !== undefined && status >= 500) {
      return new BridgeError('SALESFORCE_UNAVAILABLE', `${what}: HTTP ${status} ${code}`, {
        transient: true,
        details,
        cause: error,
      })
    }
    return new BridgeError('SALESFORCE_ERROR', `${what}: ${code}: ${message}`, { details, cause: error })
  }
  const netCode = networkErrorCode(error)
  if (error instanceof TypeError || netCode !== undefined) {
    return new BridgeError('SALESFORCE_UNAVAILABLE', `${what}: ${describeNetworkError(error)}`, {
      transient: true,
      details: { networkCode: netCode },
      cause: error,
    })
  }
  return new BridgeError(
    'SALESFORCE_ERROR',
    `${what}: ${error instanceof Error ? error.message : String(error)}`,
    {
      details: { status },
      cause: error,
    },
  )
}
