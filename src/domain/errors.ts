/**
 * Errors as typed values with stable codes. The code is what tests, logs,
 * metrics and the HTTP API use; the message is for people.
 */
export const ErrorCodes = [
  // input / API
  'VALIDATION_FAILED',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'QUEUE_FULL',
  'CONFIG_INVALID',
  /** The flow's configuration names an object, field or access the org does not have: every file would fail. */
  'FLOW_MISCONFIGURED',
  /** A configuration reload removed the flow before its queued run or job started: it will not run. */
  'FLOW_REMOVED',
  'IDEMPOTENCY_KEY_RESERVED',
  /** A console form or fetch without the session's CSRF token (or the sign-in form's). */
  'CSRF_INVALID',
  /** Too many attempts from one client (console sign-in). */
  'TOO_MANY_ATTEMPTS',
  // HTTP framing: refused before a route sees the request
  'UNSUPPORTED_MEDIA_TYPE',
  'URI_TOO_LONG',
  'HEADERS_TOO_LARGE',
  // matching
  'NO_MATCHING_RECORD',
  'AMBIGUOUS_RECORD',
  'NO_MATCH_RULE',
  'INVALID_FILE_NAME',
  /** A value from the file's name or folder is not the type its target field declares. */
  'FIELD_VALUE_INVALID',
  // remote file servers
  'HOST_KEY_MISMATCH',
  'TLS_CERTIFICATE_INVALID',
  'REMOTE_AUTH_FAILED',
  'REMOTE_NOT_FOUND',
  'REMOTE_PERMISSION_DENIED',
  'REMOTE_IO',
  'CONNECTION_LOST',
  'TIMEOUT',
  /** The proxy in front of a server (or of Salesforce/S3) refused its credentials: not retried. */
  'PROXY_AUTH_FAILED',
  // salesforce / s-drive / s3
  'SALESFORCE_AUTH_FAILED',
  'SESSION_EXPIRED',
  'API_LIMIT_EXCEEDED',
  'SALESFORCE_ERROR',
  'SALESFORCE_UNAVAILABLE',
  /** The export's write-back to the records failed (deleted record, validation rule, …). */
  'WRITE_BACK_FAILED',
  'SDRIVE_REJECTED',
  'SDRIVE_ERROR',
  /** The file is in S-Drive, but its file record refused the fields set from its name or folder. */
  'FIELDS_REFUSED',
  'S3_UPLOAD_FAILED',
  'S3_DOWNLOAD_FAILED',
  // integrity
  'SIZE_MISMATCH',
  'CHECKSUM_MISMATCH',
  'FILE_CHANGED',
  'FILE_EXISTS',
  /** An inbound PGP file does not decrypt with the flow's key (or is not an OpenPGP message): not retried. */
  'PGP_DECRYPT_FAILED',
  /** An inbound PGP file is unsigned, or signed by none of the flow's requireSignatureFrom keys: not retried. */
  'PGP_SIGNATURE_INVALID',
  /** A PGP key of the configuration cannot be used (not a key, expired, passphrase does not open it). */
  'PGP_KEY_INVALID',
  /** existing: version — the bytes are the current version's: no version made, the file skipped. */
  'UNCHANGED',
  // index (sidecar) files of inbound batches
  /** A batch folder's index cannot be read: the batch stays where it is. */
  'INDEX_INVALID',
  /** index.required: a file of the batch has no row in its index. */
  'NOT_IN_INDEX',
  /** An index row names a file that is not in its batch folder. */
  'FILE_MISSING',
  // status files
  'STATUS_FILE_UNPARSEABLE',
  'STATUS_FILE_ENCODING',
  'STATUS_FILE_TOO_LARGE',
  'ROWS_REJECTED',
  // notifications
  /** The channel refused the message (a 4xx other than 408/429, isSuccess false, a bad field): not retried. */
  'NOTIFICATION_REJECTED',
  /** The channel did not answer in time or answered 5xx/408/429: retried with backoff. */
  'NOTIFICATION_UNAVAILABLE',
  // lifecycle
  'CANCELLED',
  'TRANSFER_INTERRUPTED',
  'INTERNAL',
] as const

export type ErrorCode = (typeof ErrorCodes)[number]

export interface BridgeErrorOptions {
  /** A transient fault may succeed on retry (dropped connection, 5xx, timeout). */
  transient?: boolean
  details?: Record<string, unknown>
  cause?: unknown
}

export class BridgeError extends Error {
  readonly code: ErrorCode
  readonly transient: boolean
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, options: BridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'BridgeError'
    this.code = code
    this.transient = options.transient ?? false
    this.details = options.details
  }
}

export function isBridgeError(value: unknown): value is BridgeError {
  return value instanceof BridgeError
}

/** Codes that are worth retrying by default even when raised without the transient flag. */
const transientCodes: ReadonlySet<ErrorCode> = new Set([
  'CONNECTION_LOST',
  'TIMEOUT',
  'SALESFORCE_UNAVAILABLE',
  'SESSION_EXPIRED',
  'API_LIMIT_EXCEEDED',
  'S3_UPLOAD_FAILED',
  'S3_DOWNLOAD_FAILED',
  'REMOTE_IO',
  'NOTIFICATION_UNAVAILABLE',
])

export function isTransient(error: unknown): boolean {
  if (isBridgeError(error)) return error.transient || transientCodes.has(error.code)
  return false
}

/** Wrap anything thrown into a BridgeError, keeping a BridgeError as it is. */
export function toBridgeError(error: unknown, fallback: ErrorCode = 'INTERNAL'): BridgeError {
  if (isBridgeError(error)) return error
  const message = error instanceof Error ? error.message : String(error)
  return new BridgeError(fallback, message, { cause: error })
}
