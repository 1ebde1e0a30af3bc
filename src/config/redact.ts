/**
 * A copy of the configuration safe to show (GET /v1/flows, logs): secrets are
 * replaced wherever they appear. tls.ca is a public certificate, not a secret.
 */
import { isPlainObject } from './key-path.js'

export const REDACTED = '[redacted]'

const secretKeys: ReadonlySet<string> = new Set([
  'password',
  'privateKey',
  'passphrase',
  'clientSecret',
  'apiKeys',
])

export function redactConfig<T>(config: T): T {
  return redact(config, false) as T
}

function redact(value: unknown, secret: boolean): unknown {
  // An array of secrets (apiKeys) keeps its length, so one can still see how many keys are set.
  if (Array.isArray(value)) return value.map((child) => redact(child, secret))
  if (secret) return value === undefined ? value : REDACTED
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {}
    for (const [key, child] of Object.entries(value)) out[key] = redact(child, secretKeys.has(key))
    return out
  }
  return value
}
