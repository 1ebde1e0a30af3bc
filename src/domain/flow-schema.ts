/**
 * What an inbound flow's configuration needs from the org's schema, and which
 * of it is missing. Pure: the describes come in, problems with their key
 * paths go out. A wrong name here makes every file of the flow fail, so it is
 * a configuration fault, not a per-file one.
 *
 * Every named group of a filename rule becomes a lookup field (the group's
 * name, or what `fields` maps it to; see src/domain/matching.ts), so a group
 * that is no field of the object is a typo. A recordId rule's groups are not
 * fields (only `id` is used), so they are not checked.
 */

import { type ConfigIssue, issue, type KeyPath } from '../config/key-path.js'
import type { InboundFlow, MatchRule, TargetConfig } from '../config/schema.js'

/** One name the configuration uses: an object, or a field of an object. */
export interface SchemaNeed {
  object: string
  /** null: only the object itself must exist. */
  field: string | null
  path: KeyPath
  /** How the problem reads when the field is missing, e.g. `named group "X"`. */
  label: string
}

/** Field names of each described object (any case); null when the org has no such object. */
export type DescribedObjects = ReadonlyMap<string, ReadonlySet<string> | null>

const groupNames = (pattern: string) => Object.keys(new RegExp(`(?:${pattern})|`, 'u').exec('')?.groups ?? {})

function ruleNeeds(rule: MatchRule, path: KeyPath): SchemaNeed[] {
  const needs: SchemaNeed[] = [{ object: rule.object, field: null, path: [...path, 'object'], label: '' }]
  if (rule.type === 'index') {
    for (const field of Object.keys(rule.key)) {
      needs.push({ object: rule.object, field, path: [...path, 'key', field], label: `key field "${field}"` })
    }
    return needs
  }
  // Only the lookup groups ({segments}) name fields of the rule's object; the others feed target.fields.
  const isLookup = (name: string) => rule.type === 'recordId' || !rule.lookup || rule.lookup.includes(name)
  if (rule.type === 'filename') {
    for (const group of groupNames(rule.pattern).filter(isLookup)) {
      const mapped = rule.fields?.[group]
      needs.push(
        mapped === undefined
          ? { object: rule.object, field: group, path: [...path, 'pattern'], label: `named group "${group}"` }
          : {
              object: rule.object,
              field: mapped,
              path: [...path, 'fields', group],
              label: `"${mapped}" (group "${group}")`,
            },
      )
    }
  } else if (rule.type === 'folder') {
    for (const m of rule.template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
      const field = m[1] as string
      if (!isLookup(field)) continue
      needs.push({ object: rule.object, field, path: [...path, 'template'], label: `"{${field}}"` })
    }
  }
  return needs
}

function targetNeeds(target: Partial<TargetConfig>, base: TargetConfig, path: KeyPath): SchemaNeed[] {
  const needs: SchemaNeed[] = []
  const fileObject = target.fileObject ?? base.fileObject
  if (target.fileObject !== undefined) {
    needs.push({ object: fileObject, field: null, path: [...path, 'fileObject'], label: '' })
  }
  if (target.parentField !== undefined || target.fileObject !== undefined) {
    const parentField = target.parentField ?? base.parentField
    const at = target.parentField !== undefined ? 'parentField' : 'fileObject'
    needs.push({
      object: fileObject,
      field: parentField,
      path: [...path, at],
      label: `parent field "${parentField}"`,
    })
  }
  for (const field of Object.keys(target.fields ?? {})) {
    needs.push({ object: fileObject, field, path: [...path, 'fields', field], label: `field "${field}"` })
  }
  return needs
}

/** Every object and field the flow's match rules and targets name, with where the config names it. */
export function flowSchemaNeeds(flow: InboundFlow, flowIndex: number): SchemaNeed[] {
  const at: KeyPath = ['flows', flowIndex]
  const needs = targetNeeds(flow.target, flow.target, [...at, 'target'])
  flow.match.forEach((rule, i) => {
    needs.push(...ruleNeeds(rule, [...at, 'match', i]))
    if (rule.target) needs.push(...targetNeeds(rule.target, flow.target, [...at, 'match', i, 'target']))
  })
  return needs
}

export function neededObjects(needs: readonly SchemaNeed[]): string[] {
  return [...new Set(needs.map((n) => n.object))]
}

/** The needs the describes do not satisfy, one problem per name and place; an unknown object only where it is named. */
export function schemaProblems(needs: readonly SchemaNeed[], described: DescribedObjects): ConfigIssue[] {
  const problems = new Map<string, ConfigIssue>()
  for (const need of needs) {
    if (!described.has(need.object)) continue
    const fields = described.get(need.object)
    let problem: ConfigIssue | null = null
    if (fields === null || fields === undefined) {
      // Said once, where the object is named; its fields cannot be judged.
      if (need.field !== null) continue
      problem = issue(
        need.path,
        `object "${need.object}" does not exist in the org (or is not visible to the user)`,
      )
    } else if (need.field !== null && !fields.has(need.field.toLowerCase())) {
      problem = issue(need.path, `${need.label} is not a field of ${need.object}`)
    }
    if (problem) problems.set(`${problem.path}\u0000${problem.message}`, problem)
  }
  return [...problems.values()]
}

/** Lower-cased field names, as Salesforce compares them. */
export function fieldSet(fields: readonly string[]): ReadonlySet<string> {
  return new Set(fields.map((f) => f.toLowerCase()))
}
