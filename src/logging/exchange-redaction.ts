/**
 * Redaction of recorded HTTP exchanges (support recordings): every secret,
 * token, policy, signature and session id is replaced before a line is
 * written. Three nets, because a recording is sent to other people:
 * by key at any depth (the log redaction's keys plus S3's form fields), by
 * shape (Salesforce session ids, credential query parameters of any URL in
 * any string), and by value (the configured secrets, wherever they appear).
 */
import type { Exchange } from '../ports/exchange-log.js'
import { CENSOR, REDACTED_KEYS } from './redact.js'

const redactedKeys: ReadonlySet<string> = new Set(
  [
    ...REDACTED_KEYS,
    'x-amz-credential',
    'awsCredential',
    'x-amz-security-token',
    'sessionId',
    'session_id',
    'id_token',
    'privateKey',
  ].map((k) => k.toLowerCase()),
)

/** An access token or session id as Salesforce issues them: the org id, "!", the token. */
const SESSION_ID = /00D[A-Za-z0-9]{12,15}![A-Za-z0-9._~+/=-]+/g
/** Credential parameters of presigned S3 links and OAuth callbacks. */
const CREDENTIAL_PARAMETER =
  /([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|access_token|refresh_token|secret|token|sig)=)[^&#"\s]*/gi

/** Secrets shorter than this are not searched for by value (they would match ordinary text). */
const MIN_SECRET_LENGTH = 6

function redactString(text: string, secrets: readonly string[]): string {
  let out = text.replace(SESSION_ID, CENSOR).replace(CREDENTIAL_PARAMETER, `$1${CENSOR}`)
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(CENSOR)
  return out
}

function redactValue(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return redactString(value, secrets)
  if (value === null || typeof value !== 'object') return value
  if (depth > 32) return CENSOR
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [key, child] of Object.entries(value)) {
    out[key] = redactedKeys.has(key.toLowerCase()) ? CENSOR : redactValue(child, secrets, depth + 1)
  }
  return out
}

/** The exchange with nothing secret left in it; `secrets` are values to remove wherever they occur. */
export function redactExchange(exchange: Exchange, secrets: readonly string[]): Exchange {
  const known = secrets.filter((s) => s.length >= MIN_SECRET_LENGTH)
  return redactValue(exchange, known, 0) as Exchange
}
