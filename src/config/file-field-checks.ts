/**
 * Checks of an inbound flow's file fields (`target.fields`) and of the
 * match rules' `lookup` lists, on the raw configuration: each placeholder a
 * field template uses must be one every file can have (a standard one, or a
 * named group / {segment} of the rules that apply), picklists need values,
 * and a lookup list names only groups the rule has.
 */
import { STANDARD_FILE_FIELD_PLACEHOLDERS } from '../domain/file-fields.js'
import { parsePlaceholders } from '../domain/placeholders.js'
import { type ConfigIssue, isPlainObject, issue, type KeyPath } from './key-path.js'

/** The named groups ({segments}) a rule captures, or null when its pattern does not compile. */
export function ruleCaptures(rule: Record<string, unknown>): string[] | null {
  if (rule.type === 'folder' && typeof rule.template === 'string') {
    return [...rule.template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? '')
  }
  if ((rule.type === 'filename' || rule.type === 'recordId') && typeof rule.pattern === 'string') {
    try {
      // The empty alternative always matches, and the result lists every named group (unset).
      return Object.keys(new RegExp(`(?:${rule.pattern})|`, 'u').exec('')?.groups ?? {})
    } catch {
      return null
    }
  }
  return []
}

/** A rule's lookup list names only groups it has, and leaves at least one. */
export function checkLookupList(rule: Record<string, unknown>, path: KeyPath, issues: ConfigIssue[]): void {
  if (!Array.isArray(rule.lookup)) return
  const captures = ruleCaptures(rule)
  if (captures === null) return
  rule.lookup.forEach((name, i) => {
    if (typeof name === 'string' && !captures.includes(name)) {
      const what = rule.type === 'folder' ? `{${name}} segment` : `group named "${name}"`
      issues.push(issue([...path, 'lookup', i], `the rule has no ${what}`))
    }
  })
}

/** The flow's target.fields and each rule's target.fields, against the captures of the rules they apply to. */
export function checkFileFields(flow: Record<string, unknown>, path: KeyPath, issues: ConfigIssue[]): void {
  const rules = (Array.isArray(flow.match) ? flow.match : []).filter(isPlainObject)
  const capturesOf = rules.map((rule) => ruleCaptures(rule) ?? [])
  // The flow's fields apply to the files of every rule that does not set its own (a rule's
  // target.fields replaces the flow's): a placeholder must be captured by each of those rules.
  const inheriting = capturesOf.filter((_, i) => {
    const own = rules[i]?.target
    return !(isPlainObject(own) && own.fields !== undefined)
  })
  const common = inheriting.reduce<string[]>(
    (acc, c, i) => (i === 0 ? c : acc.filter((n) => c.includes(n))),
    [],
  )
  const target = isPlainObject(flow.target) ? flow.target : {}
  const indexed = isPlainObject(flow.index)
  checkFieldMap(target.fields, common, indexed, [...path, 'target', 'fields'], issues)
  rules.forEach((rule, i) => {
    const own = isPlainObject(rule.target) ? rule.target : {}
    checkFieldMap(own.fields, capturesOf[i] ?? [], indexed, [...path, 'match', i, 'target', 'fields'], issues)
    if (rule.type === 'index') checkIndexRule(rule, indexed, [...path, 'match', i], issues)
  })
}

const INDEX_PREFIX = 'index.'
const needsIndex = (placeholder: string) =>
  `{${placeholder}} comes from a batch's index file, but the flow has no index setting (add index: {names: ['index.csv']})`

/** An index rule needs the flow's index setting; its key templates use index columns and the file's name only. */
function checkIndexRule(
  rule: Record<string, unknown>,
  indexed: boolean,
  path: KeyPath,
  issues: ConfigIssue[],
) {
  if (!indexed) {
    issues.push(issue([...path, 'type'], "an index rule needs the flow's index setting (index: {…})"))
  }
  if (!isPlainObject(rule.key)) return
  for (const [field, template] of Object.entries(rule.key)) {
    if (typeof template !== 'string') continue
    const names = parsePlaceholders(template).map((p) => p.name)
    for (const name of names) {
      if (name === 'file.name' || (name.startsWith(INDEX_PREFIX) && name.length > INDEX_PREFIX.length))
        continue
      issues.push(
        issue(
          [...path, 'key', field],
          `unknown placeholder {${name}} (known: {index.<Column>}, {file.name})`,
        ),
      )
    }
    if (!names.some((n) => n.startsWith(INDEX_PREFIX))) {
      issues.push(issue([...path, 'key', field], 'must use an index column, e.g. "{index.SKU}"'))
    }
  }
}

function checkFieldMap(
  fields: unknown,
  captures: readonly string[],
  indexed: boolean,
  path: KeyPath,
  issues: ConfigIssue[],
): void {
  if (!isPlainObject(fields)) return
  const known = [...STANDARD_FILE_FIELD_PLACEHOLDERS, ...captures]
  for (const [name, spec] of Object.entries(fields)) {
    const template = isPlainObject(spec) ? spec.value : spec
    const at = isPlainObject(spec) ? [...path, name, 'value'] : [...path, name]
    if (typeof template === 'string') {
      for (const { name: placeholder } of parsePlaceholders(template)) {
        if (placeholder.startsWith(INDEX_PREFIX) && placeholder.length > INDEX_PREFIX.length) {
          // Which columns an index has is known only when it arrives: a row without one fails its file.
          if (!indexed) issues.push(issue(at, needsIndex(placeholder)))
          continue
        }
        if (!known.includes(placeholder)) {
          issues.push(
            issue(
              at,
              `unknown placeholder {${placeholder}}: not captured by every rule this applies to (known: ${known.map((k) => `{${k}}`).join(', ')})`,
            ),
          )
        }
      }
    }
    if (name.toLowerCase() === 'id' || name.toLowerCase() === 'ownerid') {
      issues.push(issue([...path, name], 'the bridge does not set this field of a file record'))
    }
    if (!isPlainObject(spec)) continue
    if (spec.type === 'picklist' && !Array.isArray(spec.values)) {
      issues.push(issue([...path, name, 'values'], 'required for a picklist field'))
    }
    if (spec.values !== undefined && spec.type !== 'picklist') {
      issues.push(issue([...path, name, 'values'], 'only used by picklist fields'))
    }
  }
}
