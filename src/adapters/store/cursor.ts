import { BridgeError } from '../../domain/errors.js'

/**
 * The opaque listRuns cursor: the (created_at, id) of the last run on a page,
 * base64url-encoded so callers treat it as a token, not as data.
 */
export interface RunCursor {
  createdAt: string
  id: string
}

/** The opaque listFileOutcomes cursor: the (updated_at, id) of the last item on a page. */
export interface OutcomeCursor {
  updatedAt: string
  id: string
}

function encodePair(time: string, id: string): string {
  return Buffer.from(JSON.stringify([time, id]), 'utf8').toString('base64url')
}

function decodePair(token: string): [string, string] {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
  } catch {
    parsed = undefined
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 2 &&
    typeof parsed[0] === 'string' &&
    typeof parsed[1] === 'string'
  ) {
    return [parsed[0], parsed[1]]
  }
  throw new BridgeError('VALIDATION_FAILED', 'invalid cursor', { details: { cursor: token } })
}

export function encodeRunCursor(cursor: RunCursor): string {
  return encodePair(cursor.createdAt, cursor.id)
}

export function decodeRunCursor(token: string): RunCursor {
  const [createdAt, id] = decodePair(token)
  return { createdAt, id }
}

export function encodeOutcomeCursor(cursor: OutcomeCursor): string {
  return encodePair(cursor.updatedAt, cursor.id)
}

/** Its time is checked and normalized here, so that neither store meets a malformed date. */
export function decodeOutcomeCursor(token: string): OutcomeCursor {
  const invalid = new BridgeError('VALIDATION_FAILED', 'cursor: not a cursor this listing gave out', {
    details: { field: 'cursor' },
  })
  let pair: [string, string]
  try {
    pair = decodePair(token)
  } catch {
    throw invalid
  }
  const ms = Date.parse(pair[0])
  if (!Number.isFinite(ms)) throw invalid
  return { updatedAt: new Date(ms).toISOString(), id: pair[1] }
}

/** The opaque listOutbox cursor: the (created_at, id) of the last message on a page, its time checked. */
export function encodeOutboxCursor(cursor: RunCursor): string {
  return encodePair(cursor.createdAt, cursor.id)
}

export function decodeOutboxCursor(token: string): RunCursor {
  const { updatedAt, id } = decodeOutcomeCursor(token)
  return { createdAt: updatedAt, id }
}

/** The `since` of an outcome query as the stores compare it (ISO 8601, UTC, milliseconds). */
export function outcomeSince(since: string): string {
  const ms = Date.parse(since)
  if (!Number.isFinite(ms)) {
    throw new BridgeError('VALIDATION_FAILED', `since: must be an ISO 8601 date-time, got ${since}`, {
      details: { field: 'since' },
    })
  }
  return new Date(ms).toISOString()
}

/** The opaque listRunItems cursor: the id of the last item on a page. */
export function encodeItemCursor(id: string): string {
  return Buffer.from(JSON.stringify([id]), 'utf8').toString('base64url')
}

export function decodeItemCursor(token: string): string {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
  } catch {
    parsed = undefined
  }
  if (Array.isArray(parsed) && parsed.length === 1 && typeof parsed[0] === 'string') return parsed[0]
  throw new BridgeError('VALIDATION_FAILED', 'cursor: not a cursor this listing gave out', {
    details: { field: 'cursor' },
  })
}

/** A run listing's time bound as the stores compare it (ISO 8601, UTC, milliseconds). */
export function runTimeBound(field: 'from' | 'to', value: string): string {
  const ms = Date.parse(value)
  if (!Number.isFinite(ms)) {
    throw new BridgeError('VALIDATION_FAILED', `${field}: must be an ISO 8601 date-time, got ${value}`, {
      details: { field },
    })
  }
  return new Date(ms).toISOString()
}
