import { BridgeError } from '../../domain/errors.js'

/**
 * The opaque listRuns cursor: the (created_at, id) of the last run on a page,
 * base64url-encoded so callers treat it as a token, not as data.
 */
export interface RunCursor {
  createdAt: string
  id: string
}

export function encodeRunCursor(cursor: RunCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id]), 'utf8').toString('base64url')
}

export function decodeRunCursor(token: string): RunCursor {
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
    return { createdAt: parsed[0], id: parsed[1] }
  }
  throw new BridgeError('VALIDATION_FAILED', 'invalid cursor', { details: { cursor: token } })
}
