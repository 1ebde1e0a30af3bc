/**
 * `${VAR}` and `${VAR:-default}` references in configuration strings,
 * resolved from an explicit environment so the loader stays pure.
 * `$${` is a literal `${`.
 */
import { type ConfigIssue, isPlainObject, issue, type KeyPath } from './key-path.js'

export type Env = Record<string, string | undefined>

const reference = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s

/** Returns a copy of `value` with every string resolved, and the issues found on the way. */
export function substituteEnv(value: unknown, env: Env): { value: unknown; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = []
  const walk = (node: unknown, path: KeyPath): unknown => {
    if (typeof node === 'string') return substituteString(node, env, path, issues)
    if (Array.isArray(node)) return node.map((child, i) => walk(child, [...path, i]))
    if (isPlainObject(node)) {
      const out: Record<string, unknown> = {}
      for (const [key, child] of Object.entries(node)) out[key] = walk(child, [...path, key])
      return out
    }
    return node
  }
  return { value: walk(value, []), issues }
}

function substituteString(text: string, env: Env, path: KeyPath, issues: ConfigIssue[]): string {
  if (!text.includes('${')) return text
  let out = ''
  let i = 0
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${'
      i += 3
      continue
    }
    if (!text.startsWith('${', i)) {
      out += text[i]
      i += 1
      continue
    }
    const end = text.indexOf('}', i + 2)
    if (end === -1) {
      issues.push(
        issue(path, `unterminated environment reference "${text.slice(i)}" (write $\${ for a literal \${)`),
      )
      return text
    }
    const inner = text.slice(i + 2, end)
    const parsed = reference.exec(inner)
    if (!parsed) {
      issues.push(issue(path, `invalid environment reference "\${${inner}}"`))
    } else {
      const name = parsed[1]!
      const fallback = parsed[2]
      const found = env[name]
      // Shell semantics: ":-" also replaces an empty value; a plain reference keeps it.
      if (fallback !== undefined) out += found === undefined || found === '' ? fallback : found
      else if (found === undefined) issues.push(issue(path, `environment variable ${name} is not set`))
      else out += found
    }
    i = end + 1
  }
  return out
}
