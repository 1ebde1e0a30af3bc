/**
 * Templates for outbound names, folders, manifests and write-back values:
 * `{file.name}`, `{job.id}`, `{now:yyyyMMdd}`, `{metadata.key}` and record
 * fields `{Name}` / `{Account.AccountNumber}`. Pure: the record and the
 * clock come in, text goes out; an unknown placeholder is an error.
 */
import { BridgeError } from './errors.js'

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_.]*)(?::([A-Za-z-_ ]+))?\}/g

/** Names the service provides itself; anything else API-name shaped is a record field. */
const BUILT_IN =
  /^(file\.[a-zA-Z]+|job\.[a-zA-Z]+|flow|now|window|format|error|correlationId|metadata\.[A-Za-z0-9_]+)$/

export interface OutboundTemplateContext {
  values: Readonly<Record<string, string | number | null>>
  record: Readonly<Record<string, unknown>> | null
  now: number
  timeZone: string
}

/** Record field paths used by these templates (for the one SOQL per job). */
export function recordFieldsOf(templates: readonly (string | undefined)[]): string[] {
  const fields = new Set<string>()
  for (const template of templates) {
    if (!template) continue
    for (const m of template.matchAll(PLACEHOLDER)) {
      const name = m[1] as string
      if (!BUILT_IN.test(name)) fields.add(name)
    }
  }
  return [...fields].sort()
}

/** A record value by path; relationship fields come back nested (`{Account: {AccountNumber}}`). */
export function recordValue(record: Readonly<Record<string, unknown>> | null, path: string): unknown {
  if (!record) return undefined
  if (path in record) return record[path]
  let node: unknown = record
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

function parts(ms: number, timeZone: string): Record<string, string> {
  const formatter = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  })
  return Object.fromEntries(formatter.formatToParts(new Date(ms)).map((p) => [p.type, p.value]))
}

/** yyyy MM dd HH mm ss tokens; anything else is kept as it is. */
export function formatDate(ms: number, format: string, timeZone: string): string {
  const p = parts(ms, timeZone)
  return format.replace(/yyyy|MM|dd|HH|mm|ss/g, (token) => {
    switch (token) {
      case 'yyyy':
        return p.year as string
      case 'MM':
        return p.month as string
      case 'dd':
        return p.day as string
      case 'HH':
        return p.hour as string
      case 'mm':
        return p.minute as string
      default:
        return p.second as string
    }
  })
}

export function renderOutboundTemplate(template: string, ctx: OutboundTemplateContext): string {
  return template.replace(PLACEHOLDER, (_, name: string, format: string | undefined) => {
    if (name === 'now') {
      return format ? formatDate(ctx.now, format, ctx.timeZone) : new Date(ctx.now).toISOString()
    }
    if (name in ctx.values) {
      const value = ctx.values[name]
      return value === null || value === undefined ? '' : String(value)
    }
    if (BUILT_IN.test(name)) {
      if (name.startsWith('metadata.')) return ''
      throw new BridgeError('VALIDATION_FAILED', `placeholder {${name}} has no value here ("${template}")`)
    }
    const value = recordValue(ctx.record, name)
    if (value === undefined) {
      throw new BridgeError('VALIDATION_FAILED', `record has no field ${name} (template "${template}")`)
    }
    return value === null ? '' : String(value)
  })
}
