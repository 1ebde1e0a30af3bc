/**
 * Log redaction, pure: by key at any depth of a logged object, and by
 * parameter name in the query string of a logged URL. pino's own `redact`
 * takes fixed paths (no recursive wildcard), so a secret one level deeper
 * than the paths reach would be written in clear; this walks the whole value
 * instead, copying only the branches it changes.
 */

export const CENSOR = '[redacted]'

/** Object keys whose value is never logged (compared case-insensitively). */
export const REDACTED_KEYS = [
  'password',
  'passphrase',
  'privateKey',
  'clientSecret',
  'client_secret',
  'secret',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'token',
  'assertion',
  'apiKey',
  'api_key',
  'apiKeys',
  'authorization',
  'cookie',
  'set-cookie',
  'signature',
  'policy',
  'x-amz-signature',
] as const

/** Query-string parameters whose value is never logged (compared case-insensitively). */
export const REDACTED_QUERY_PARAMETERS = [
  'secret',
  'token',
  'key',
  'api_key',
  'apikey',
  'access_token',
  'password',
  'signature',
  'x-amz-signature',
] as const

/** Routes whose whole query is a credential (the Outbound Message listener's `?secret=`). */
const WHOLE_QUERY_REDACTED_PREFIXES = ['/v1/outbound-messages/'] as const

const redactedKeys = new Set<string>(REDACTED_KEYS.map((k) => k.toLowerCase()))
const redactedParameters = new Set<string>(REDACTED_QUERY_PARAMETERS.map((k) => k.toLowerCase()))

/** Keys whose string value is a URL and gets its query redacted. */
const URL_KEYS = new Set(['url', 'href', 'originalUrl'])

/** Beyond this depth a value is replaced whole: nothing we log is this deep, and a cycle-free walk must end. */
const MAX_DEPTH = 64

function parameterName(pair: string): string {
  const eq = pair.indexOf('=')
  const raw = eq === -1 ? pair : pair.slice(0, eq)
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase()
  } catch {
    return raw.toLowerCase()
  }
}

/**
 * The URL with the values of credential-like query parameters replaced; on
 * the Outbound Message route the whole query is replaced. Path and fragment
 * are kept; a URL without a query is returned as it is (the common case, and
 * cheap: one indexOf).
 */
export function redactUrlQuery(url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  const hash = url.indexOf('#', q)
  const path = url.slice(0, q)
  const query = hash === -1 ? url.slice(q + 1) : url.slice(q + 1, hash)
  const fragment = hash === -1 ? '' : url.slice(hash)
  if (WHOLE_QUERY_REDACTED_PREFIXES.some((p) => path.includes(p))) {
    return query === '' ? url : `${path}?${CENSOR}${fragment}`
  }
  let changed = false
  const pairs = query.split('&').map((pair) => {
    if (!redactedParameters.has(parameterName(pair))) return pair
    changed = true
    const eq = pair.indexOf('=')
    return `${eq === -1 ? pair : pair.slice(0, eq)}=${CENSOR}`
  })
  return changed ? `${path}?${pairs.join('&')}${fragment}` : url
}

/** scheme://user:password@host… → scheme://user:[redacted]@host… (a proxy URL written with its login). */
export function redactUserInfo(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/, `$1:${CENSOR}@`)
}

function isWalkable(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false
  // Dates, Buffers, URLs… serialize through toJSON to a string or a byte list, not to their keys.
  return typeof (value as { toJSON?: unknown }).toJSON !== 'function'
}

function redactValue(key: string, value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (redactedKeys.has(key.toLowerCase())) return CENSOR
  if (typeof value === 'string') return URL_KEYS.has(key) ? redactUrlQuery(redactUserInfo(value)) : value
  // A URL object serializes to its href, query and all.
  if (value instanceof URL) return redactUrlQuery(value.href)
  if (!isWalkable(value)) return value
  return redactObject(value, depth + 1, seen)
}

function redactArray(list: readonly unknown[], depth: number, seen: WeakSet<object>): unknown[] {
  let copy: unknown[] | null = null
  for (let i = 0; i < list.length; i++) {
    const item = list[i]
    if (!isWalkable(item)) continue
    const next = redactObject(item, depth + 1, seen)
    if (next !== item) {
      copy ??= list.slice()
      copy[i] = next
    }
  }
  return copy ?? (list as unknown[])
}

function redactObject(
  value: object,
  depth: number,
  seen: WeakSet<object>,
  skipKeys?: ReadonlySet<string>,
): unknown {
  if (depth > MAX_DEPTH) return CENSOR
  if (seen.has(value)) return value // a cycle: pino's safe stringify writes it as "[Circular]"
  seen.add(value)
  try {
    if (Array.isArray(value)) return redactArray(value, depth, seen)
    let copy: Record<string, unknown> | null = null
    // for…in + hasOwn, like JSON.stringify: enumerable own keys, so an Error's extra fields are walked too.
    for (const key in value) {
      if (!Object.hasOwn(value, key) || skipKeys?.has(key)) continue
      const before = (value as Record<string, unknown>)[key]
      const after = redactValue(key, before, depth, seen)
      if (after !== before) {
        copy ??= isPlain(value) ? { ...(value as Record<string, unknown>) } : ownEnumerable(value)
        copy[key] = after
      }
    }
    return copy ?? value
  } finally {
    seen.delete(value)
  }
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** A copy of a class instance's enumerable own fields; an Error keeps its name, message and stack. */
function ownEnumerable(value: object): Record<string, unknown> {
  const copy: Record<string, unknown> = {}
  if (value instanceof Error) {
    copy.type = value.constructor?.name ?? value.name
    copy.message = value.message
    copy.stack = value.stack
  }
  for (const key in value) if (Object.hasOwn(value, key)) copy[key] = (value as Record<string, unknown>)[key]
  return copy
}

/**
 * The object with every redacted key censored at any depth and every `url`
 * string's credential parameters censored. Returns the same object when
 * nothing needed censoring (no allocation on the hot path). `skipKeys` are
 * left as they are at the top level (a log call's keys that have a
 * serializer, redacted after it runs).
 */
export function redactDeep<T>(value: T, skipKeys?: ReadonlySet<string>): T {
  if (!isWalkable(value)) return value
  return redactObject(value, 0, new WeakSet(), skipKeys) as T
}
