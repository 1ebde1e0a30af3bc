/** BridgeError builders shared by the remote-file adapters. */
import { BridgeError } from '../../domain/errors.js'

/** An aborted signal becomes CANCELLED, unless it was a timeout signal (AbortSignal.timeout). */
export function cancelledError(signal: AbortSignal | undefined): BridgeError {
  const reason: unknown = signal?.reason
  if (reason instanceof BridgeError) return reason
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new BridgeError('TIMEOUT', reason.message, { transient: true, cause: reason })
  }
  return new BridgeError('CANCELLED', 'operation cancelled', { cause: reason })
}

export function timeoutError(what: string, ms: number): BridgeError {
  return new BridgeError('TIMEOUT', `${what} timed out after ${ms} ms`, { transient: true })
}

export function stalledError(what: string, ms: number): BridgeError {
  return new BridgeError('TIMEOUT', `${what} made no progress for ${ms} ms`, { transient: true })
}

export function connectionLost(message: string, cause?: unknown): BridgeError {
  return new BridgeError('CONNECTION_LOST', message, { transient: true, cause })
}

/** A rename without `overwrite` found its target taken; not transient, the name stays taken. */
export function fileExists(path: string): BridgeError {
  return new BridgeError('FILE_EXISTS', `${path} already exists`, { details: { path } })
}

const tlsCertificateCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
])

const socketLossCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_SOCKET_CLOSED',
])

/** Maps socket- and TLS-level failures that both protocols share; undefined when it is neither. */
export function transportError(error: unknown): BridgeError | undefined {
  if (!(error instanceof Error)) return undefined
  const code = (error as NodeJS.ErrnoException).code
  if (typeof code === 'string' && tlsCertificateCodes.has(code)) {
    return new BridgeError('TLS_CERTIFICATE_INVALID', `server certificate rejected: ${error.message}`, {
      cause: error,
    })
  }
  if (code === 'ETIMEDOUT')
    return new BridgeError('TIMEOUT', error.message, { transient: true, cause: error })
  if (typeof code === 'string' && socketLossCodes.has(code)) return connectionLost(error.message, error)
  return undefined
}
