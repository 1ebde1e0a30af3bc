/**
 * The placeholders of a `{name}` / `{name:format}` template, in order of
 * appearance. Pure and deliberately permissive: it only finds the braces, so
 * the configuration checks can name every malformed or unknown placeholder
 * and the renderer can resolve exactly the same list.
 *
 * The name ends at the first ':' so a format may itself hold colons
 * (`{now:HH:mm}` → name "now", format "HH:mm"). Braces do not nest; a lone
 * '{' or '}' is literal text.
 */
export interface Placeholder {
  name: string
  format?: string
}

const BRACES = /\{([^{}]*)\}/g

export function parsePlaceholders(template: string): Placeholder[] {
  const out: Placeholder[] = []
  for (const match of template.matchAll(BRACES)) {
    const body = match[1] ?? ''
    const colon = body.indexOf(':')
    out.push(colon === -1 ? { name: body } : { name: body.slice(0, colon), format: body.slice(colon + 1) })
  }
  return out
}
