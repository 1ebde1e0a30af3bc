/** A location in the configuration, printed as `flows[2].match[0].pattern`. */
export type KeyPath = readonly (string | number)[]

export interface ConfigIssue {
  /** Key path of the offending value; '' for the file as a whole. */
  path: string
  message: string
}

export function formatKeyPath(path: KeyPath): string {
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`
    else out += out === '' ? segment : `.${segment}`
  }
  return out
}

export function issue(path: KeyPath, message: string): ConfigIssue {
  return { path: formatKeyPath(path), message }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
