/**
 * A copy of the configuration safe to show (GET /v1/flows, logs): secrets are
 * replaced wherever they appear. tls.ca is a public certificate, not a secret.
 * A connection URL is kept (host and database help when debugging) with only
 * its password replaced.
 */
import { isPlainObject } from './key-path.js'

export const REDACTED = '[redacted]'

const secretKeys: ReadonlySet<string> = new Set([
  'password',
  'privateKey',
  'passphrase',
  'clientSecret',
  'apiKeys',
  // outboundMessages.secret: whoever knows it can post outbound messages that trigger exports.
  'secret',
])

/** Keys whose value is a connection URL that may carry a password (proxy.url: http://user:pass@host). */
const urlKeys: ReadonlySet<string> = new Set(['postgresUrl', 'url'])

export function redactConfig<T>(config: T): T {
  return redact(config, false) as T
}

function redact(value: unknown, secret: boolean): unknown {
  // An array of secrets (apiKeys) keeps its length, so one can still see how many keys are set.
  if (Array.isArray(value)) return value.map((child) => redact(child, secret))
  if (secret) return value === undefined ? value : REDACTED
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {}
    for (const [key, child] of Object.entries(value)) {
      out[key] =
        urlKeys.has(key) && typeof child === 'string' ? redactUrl(child) : redact(child, secretKeys.has(key))
    }
    return out
  }
  return value
}

/**
 * scheme://user:password@host/db?password=… → scheme://user:[redacted]@host/db?password=[redacted].
 * Text, not the URL class: URL would percent-encode the brackets and
 * normalize the rest, and the point is to show the URL as it was written.
 */
export function redactUrl(url: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url)?.[0]
  let out = url
  if (scheme) {
    // The user info ends at the last @ before the query; a password someone
    // forgot to percent-encode may hold /, @ or ?, and must stay hidden anyway.
    const query = url.indexOf('?', scheme.length)
    let at = url.lastIndexOf('@', query === -1 ? url.length : query)
    if (at < scheme.length) at = url.lastIndexOf('@')
    const colon = url.indexOf(':', scheme.length)
    if (at >= scheme.length && colon !== -1 && colon < at) {
      out = `${url.slice(0, colon + 1)}${REDACTED}${url.slice(at)}`
    }
  }
  // libpq also takes the password (and the client key's passphrase) as query parameters.
  return out.replace(/([?&](?:password|sslpassword)=)[^&#]*/gi, `$1${REDACTED}`)
}
