/**
 * What a configuration reload changes, computed from the running and the
 * new configuration as whole objects (so keys added later to flows or
 * endpoints are covered without being named here). The answer names flows,
 * endpoints and the key paths that differ, never a value: a changed
 * password shows as `password`, not as what it became.
 */
import { isDeepStrictEqual } from 'node:util'

export interface NamedChanges {
  added: string[]
  removed: string[]
  /** Each changed one with the key paths whose values differ (arrays compare whole). */
  changed: { name: string; keys: string[] }[]
  unchanged: number
}

export interface ConfigChanges {
  flows: NamedChanges
  endpoints: NamedChanges
  /** Top-level sections that differ but apply only at the next start (server, store, salesforce, …). */
  restartRequired: string[]
}

type Plain = Record<string, unknown>

const isPlain = (value: unknown): value is Plain =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** The key paths under which two values differ; '' when they differ as a whole (type or array). */
export function changedKeys(before: unknown, after: unknown, prefix = ''): string[] {
  if (isDeepStrictEqual(before, after)) return []
  if (!isPlain(before) || !isPlain(after)) return [prefix]
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
  return keys.flatMap((key) => changedKeys(before[key], after[key], prefix === '' ? key : `${prefix}.${key}`))
}

export function namedChanges<T>(before: ReadonlyMap<string, T>, after: ReadonlyMap<string, T>): NamedChanges {
  const result: NamedChanges = { added: [], removed: [], changed: [], unchanged: 0 }
  for (const [name, next] of after) {
    const previous = before.get(name)
    if (previous === undefined) {
      result.added.push(name)
      continue
    }
    const keys = changedKeys(previous, next)
    if (keys.length === 0) result.unchanged++
    else result.changed.push({ name, keys })
  }
  for (const name of before.keys()) if (!after.has(name)) result.removed.push(name)
  return result
}

/** Sections a reload applies; the rest are compared only to say a restart is needed. */
const RELOADED_SECTIONS = new Set(['flows', 'endpoints'])

export function configChanges(
  before: { flows: readonly { name: string }[]; endpoints: Record<string, unknown> } & Plain,
  after: { flows: readonly { name: string }[]; endpoints: Record<string, unknown> } & Plain,
): ConfigChanges {
  const byName = <T extends { name: string }>(flows: readonly T[]) => new Map(flows.map((f) => [f.name, f]))
  const sections = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
  return {
    flows: namedChanges(byName(before.flows), byName(after.flows)),
    endpoints: namedChanges(
      new Map(Object.entries(before.endpoints)),
      new Map(Object.entries(after.endpoints)),
    ),
    restartRequired: sections.filter(
      (key) => !RELOADED_SECTIONS.has(key) && !isDeepStrictEqual(before[key], after[key]),
    ),
  }
}
