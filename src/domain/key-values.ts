/**
 * Key/value lists in request bodies. The API documents them as lists of
 * `{key, value}` because Salesforce External Services cannot offer a map-typed
 * input in Flow Builder; clients written before that send a JSON object, which
 * is still accepted by turning it into the list before validation.
 */
import { BridgeError } from './errors.js'

export interface KeyValueEntry {
  key: string
  value: string
}

/**
 * The map form `{"k": "v"}` as `[{key: "k", value: "v"}]`. Anything else is
 * returned as it is, so the body's schema refuses it with its usual message.
 */
export function keyValueListFromMap(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  return Object.entries(value).map(([key, entry]) => ({ key, value: entry }))
}

/**
 * The map the services take. A key given twice is refused rather than one of
 * the values silently winning; `__proto__` is refused as the JSON parser
 * refuses it in the map form.
 */
export function keyValueMap(entries: readonly KeyValueEntry[], at: string): Record<string, string> {
  const seen = new Set<string>()
  for (const { key } of entries) {
    if (key === '__proto__')
      throw new BridgeError('VALIDATION_FAILED', `${at}: the key __proto__ is not allowed`)
    if (seen.has(key))
      throw new BridgeError('VALIDATION_FAILED', `${at}: the key ${key} is given more than once`)
    seen.add(key)
  }
  return Object.fromEntries(entries.map(({ key, value }) => [key, value]))
}
