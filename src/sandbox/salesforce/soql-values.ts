/** SOQL literals and comparisons, as Salesforce evaluates them. */
import { looksLikeId, sameId } from './ids.js'

export class SoqlError extends Error {
  constructor(
    readonly errorCode: 'MALFORMED_QUERY' | 'INVALID_FIELD' | 'INVALID_TYPE' | 'INVALID_QUERY_LOCATOR',
    message: string,
  ) {
    super(message)
  }
}

const STRING_ESCAPES: Record<string, string> = {
  "'": "'",
  '"': '"',
  '\\': '\\',
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
}

function quotedBody(raw: string): string {
  if (raw.length < 2 || !raw.startsWith("'") || !raw.endsWith("'")) {
    throw new SoqlError('MALFORMED_QUERY', `Not a string literal: ${raw}`)
  }
  return raw.slice(1, -1)
}

/** Decodes a quoted literal; `\_` and `\%` only mean something inside LIKE, so they keep their backslash here. */
export function unescapeString(raw: string): string {
  const body = quotedBody(raw)
  let out = ''
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!
    if (c !== '\\') {
      out += c
      continue
    }
    const next = body[++i]
    if (next === undefined)
      throw new SoqlError('MALFORMED_QUERY', 'Invalid string literal: dangling backslash')
    const decoded = STRING_ESCAPES[next]
    if (decoded !== undefined) out += decoded
    else if (next === '_' || next === '%') out += `\\${next}`
    else throw new SoqlError('MALFORMED_QUERY', `Invalid string literal: unknown escape \\${next}`)
  }
  return out
}

/** LIKE is case-insensitive; `%` is any run, `_` one character, `\%` / `\_` the characters themselves. */
export function likePattern(raw: string): RegExp {
  const body = quotedBody(raw)
  let source = ''
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!
    if (c === '\\') {
      const next = body[++i]
      if (next === undefined)
        throw new SoqlError('MALFORMED_QUERY', 'Invalid LIKE pattern: dangling backslash')
      const literal = next === '_' || next === '%' ? next : STRING_ESCAPES[next]
      if (literal === undefined)
        throw new SoqlError('MALFORMED_QUERY', `Invalid LIKE pattern: unknown escape \\${next}`)
      source += escapeRegExp(literal)
    } else if (c === '%') source += '.*'
    else if (c === '_') source += '.'
    else source += escapeRegExp(c)
  }
  return new RegExp(`^${source}$`, 'is')
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

export type Literal = string | number | boolean | null | { date: number; text: string }

export function parseLiteral(raw: string, literalType: string | undefined): Literal {
  switch (literalType) {
    case 'STRING':
      return unescapeString(raw)
    case 'INTEGER':
    case 'DECIMAL':
      return Number(raw)
    case 'BOOLEAN':
      return raw.toLowerCase() === 'true'
    case 'NULL':
      return null
    case 'DATE':
    case 'DATETIME': {
      const date = Date.parse(literalType === 'DATE' ? `${raw}T00:00:00Z` : raw)
      if (Number.isNaN(date)) throw new SoqlError('MALFORMED_QUERY', `Invalid date: ${raw}`)
      return { date, text: raw }
    }
    default:
      throw new SoqlError(
        'MALFORMED_QUERY',
        `Literals of type ${literalType ?? 'unknown'} are not supported here`,
      )
  }
}

/** Orders two field values the way ORDER BY and < > do; undefined when they cannot be compared. */
export function compareValues(a: unknown, b: Literal | unknown): number | undefined {
  if (b !== null && typeof b === 'object' && 'date' in b) {
    const left = typeof a === 'string' ? Date.parse(a.replace(/\+0000$/, 'Z')) : Number.NaN
    return Number.isNaN(left) ? undefined : Math.sign(left - (b as { date: number }).date)
  }
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b)
  if (typeof a === 'number' && typeof b === 'string' && b.trim() !== '' && !Number.isNaN(Number(b))) {
    return Math.sign(a - Number(b))
  }
  if (typeof a === 'string' && typeof b === 'number' && a.trim() !== '' && !Number.isNaN(Number(a))) {
    return Math.sign(Number(a) - b)
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b)
  if (typeof a === 'string' && typeof b === 'string') {
    const x = a.toLowerCase()
    const y = b.toLowerCase()
    return x < y ? -1 : x > y ? 1 : 0
  }
  return undefined
}

/** SOQL `=`: strings ignore case, ids match across their 15- and 18-char forms. */
export function valuesEqual(a: unknown, b: Literal | unknown): boolean {
  if (a === null || a === undefined || b === null || b === undefined) {
    return (a === null || a === undefined) && (b === null || b === undefined)
  }
  if (isIdLike(a) && isIdLike(b)) return sameId(a, b)
  return compareValues(a, b) === 0
}

function isIdLike(value: unknown): value is string {
  return looksLikeId(value) && /[0-9]/.test(value)
}
