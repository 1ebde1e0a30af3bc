/**
 * `{name}` placeholder templates (descriptions, folders). Pure: values come
 * in, text goes out; an unknown placeholder is an error, not an empty string.
 */
import { BridgeError } from './errors.js'

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_.]*)\}/g

export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string)
}

export function renderTemplate(
  template: string,
  values: Readonly<Record<string, string | number | null>>,
): string {
  return template.replace(PLACEHOLDER, (_, key: string) => {
    const value = values[key]
    if (value === undefined) {
      throw new BridgeError('VALIDATION_FAILED', `unknown placeholder {${key}} in template "${template}"`)
    }
    return value === null ? '' : String(value)
  })
}
