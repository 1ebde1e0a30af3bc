/**
 * Finds the target record of every file of a run with as few SOQL queries
 * as possible: one per object and lookup field set (chunked only when the
 * IN list would exceed the statement limit), never one per file.
 */
import type { InboundFlow } from '../../config/schema.js'
import { BridgeError, isTransient, toBridgeError } from '../../domain/errors.js'
import { fileFieldValues } from '../../domain/file-fields.js'
import {
  type CompiledRules,
  compileMatchRules,
  extractMatchKey,
  type LookupPlan,
  type MatchCandidate,
  type MatchKey,
  planLookups,
  resolveMatch,
  ruleTarget,
} from '../../domain/matching.js'
import { inClause, QUERY_URL_BUDGET, selectWhereIn, urlLength } from '../../domain/soql.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { ItemTarget } from '../../ports/store.js'
import { isConfigurationFault } from '../../services/flow-schema.js'

export type MatchResult =
  | { ok: true; target: ItemTarget }
  | { ok: false; code: string; message: string; transient: boolean }

const compiledCache = new WeakMap<InboundFlow, CompiledRules>()

export function compiledRulesOf(flow: InboundFlow): CompiledRules {
  let compiled = compiledCache.get(flow)
  if (!compiled) {
    compiled = compileMatchRules(flow.match)
    compiledCache.set(flow, compiled)
  }
  return compiled
}

function queriesFor(plan: LookupPlan): string[] {
  const [first, ...rest] = plan.fields as [string, ...string[]]
  // Extra fields narrow the query; the exact tuple is checked in memory by resolveMatch.
  const extraWhere = rest.map((f) => inClause(f, plan.values[f] ?? [])).join(' AND ')
  return selectWhereIn({
    fields: ['Id', ...plan.fields],
    object: plan.object,
    field: first,
    values: plan.values[first] ?? [],
    maxChars: QUERY_URL_BUDGET,
    measure: urlLength,
    ...(extraWhere ? { extraWhere } : {}),
  })
}

function configurationFault(
  plan: LookupPlan,
  keyed: readonly [unknown, MatchKey][],
  e: BridgeError,
): BridgeError {
  const fieldsOf = (k: MatchKey) => (k.kind === 'id' ? ['Id'] : Object.keys(k.fields).sort()).join(',')
  // The first rule whose keys made this query: its key path is where to look.
  const key = keyed.find(([, k]) => k.object === plan.object && fieldsOf(k) === plan.fields.join(','))?.[1]
  return new BridgeError(
    'FLOW_MISCONFIGURED',
    `lookup on ${plan.object} (${plan.fields.join(', ')}): ${e.message}`,
    {
      details: { ruleIndex: key?.ruleIndex ?? 0, salesforceCode: e.details?.salesforceCode },
      cause: e,
    },
  )
}

export async function matchFiles<T extends MatchCandidate>(
  files: readonly T[],
  flow: InboundFlow,
  sf: SalesforceApi,
  signal?: AbortSignal,
  /** The run's clock: {date} in target.fields. */
  now: number = Date.now(),
): Promise<Map<T, MatchResult>> {
  const rules = compiledRulesOf(flow)
  const out = new Map<T, MatchResult>()
  const keyed: [T, MatchKey][] = []
  for (const file of files) {
    const outcome = extractMatchKey(file, rules)
    if (outcome.ok) keyed.push([file, outcome.key])
    else out.set(file, { ok: false, code: outcome.code, message: outcome.message, transient: false })
  }

  const results = new Map<string, Record<string, unknown>[]>()
  for (const plan of planLookups(keyed.map(([, key]) => key))) {
    let records: Record<string, unknown>[]
    try {
      records = (await Promise.all(queriesFor(plan).map((q) => sf.query(q, signal ? { signal } : {})))).flat()
    } catch (error) {
      const e: BridgeError = toBridgeError(error, 'SALESFORCE_ERROR')
      // A wrong field or object name, or no access, would fail every file alike: the run fails instead.
      if (isConfigurationFault(e)) throw configurationFault(plan, keyed, e)
      // Any other failed lookup fails only the files that needed it, with the reason.
      for (const [file, key] of keyed) {
        if (key.object === plan.object)
          out.set(file, { ok: false, code: e.code, message: e.message, transient: isTransient(e) })
      }
      continue
    }
    results.set(plan.object, [...(results.get(plan.object) ?? []), ...records])
  }

  for (const [file, key] of keyed) {
    if (out.has(file)) continue
    const match = resolveMatch(key, results)
    if (!match.ok) {
      out.set(file, { ...match, transient: false })
      continue
    }
    const target = ruleTarget(rules, key.ruleIndex, flow.target)
    const fields = target.fields
      ? fileFieldValues(target.fields, {
          flow: flow.name,
          fileName: file.name,
          recordId: match.recordId,
          date: new Date(now).toISOString().slice(0, 10),
          captures: key.captures,
        })
      : null
    if (fields && !fields.ok) {
      out.set(file, { ok: false, code: fields.code, message: fields.message, transient: false })
      continue
    }
    out.set(file, {
      ok: true,
      target: {
        object: key.object,
        recordId: match.recordId,
        fileObject: target.fileObject,
        parentField: target.parentField,
        folder: target.folder ?? null,
        description: target.description ?? null,
        ...(fields ? { fieldValues: fields.values } : {}),
      },
    })
  }
  return out
}
