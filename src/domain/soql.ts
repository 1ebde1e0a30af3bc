/**
 * SOQL text building without I/O. Values are always rendered as escaped
 * string literals and names are validated, so caller data can never change
 * the shape of a query.
 */
import { BridgeError } from './errors.js'

/** Salesforce rejects statements over 100,000 characters; stay clear of it. */
export const DEFAULT_MAX_QUERY_CHARS = 90_000

const escapes: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
}

/** A quoted SOQL string literal. Backslash is handled in the same pass, so no escape is doubled. */
export function soqlString(value: string): string {
  return `'${value.replace(/[\\'"\n\r\t\b\f]/g, (c) => escapes[c] ?? c)}'`
}

const identifierPattern = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/

/** Returns the API name unchanged, or throws VALIDATION_FAILED when it is not a plain (dotted) API name. */
export function soqlIdentifier(name: string): string {
  if (!identifierPattern.test(name)) {
    throw new BridgeError('VALIDATION_FAILED', `Not a valid Salesforce API name: ${JSON.stringify(name)}`, {
      details: { name },
    })
  }
  return name
}

/**
 * Salesforce caps URI + headers at 16,384 bytes and queries go in the GET
 * URL, so callers that send a query by GET budget it in URL-encoded
 * characters with headroom for host, path and headers.
 */
export const QUERY_URL_BUDGET = 12_000

export const urlLength = (text: string): number => encodeURIComponent(text).length

/** How long a piece of query text counts as; default plain characters. */
export type MeasureFn = (text: string) => number

const plainLength: MeasureFn = (text) => text.length

/**
 * Splits values into groups whose rendered IN list (`'a','b',…`) measures at
 * most maxChars each. Order is kept. A single value that cannot fit alone is
 * a VALIDATION_FAILED error, since no split could make the query valid.
 */
export function chunkInList(values: readonly string[], maxChars: number, measure = plainLength): string[][] {
  const chunks: string[][] = []
  let current: string[] = []
  let used = 0
  for (const value of values) {
    const size = measure(soqlString(value))
    if (size > maxChars) {
      throw new BridgeError(
        'VALIDATION_FAILED',
        `A value is too long for one SOQL IN list (${size} > ${maxChars})`,
      )
    }
    if (current.length > 0 && used + measure(',') + size > maxChars) {
      chunks.push(current)
      current = []
      used = 0
    }
    used += current.length > 0 ? measure(',') + size : size
    current.push(value)
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

/** Renders `field IN ('a','b')` for already-chunked values. */
export function inClause(field: string, values: readonly string[]): string {
  return `${soqlIdentifier(field)} IN (${values.map(soqlString).join(',')})`
}

export interface SelectWhereInSpec {
  fields: readonly string[]
  object: string
  /** The field compared with IN. */
  field: string
  values: readonly string[]
  /** Trusted SOQL condition ANDed in; build its values with soqlString. */
  extraWhere?: string
  /** Budget for a whole statement; default DEFAULT_MAX_QUERY_CHARS. */
  maxChars?: number
  /** How to count the budget, e.g. URL-encoded length for GET requests. */
  measure?: MeasureFn
}

/** One SELECT per chunk of values; no query when values is empty. */
export function selectWhereIn(spec: SelectWhereInSpec): string[] {
  if (spec.values.length === 0) return []
  if (spec.fields.length === 0) throw new BridgeError('VALIDATION_FAILED', 'SELECT needs at least one field')
  const measure = spec.measure ?? plainLength
  const maxChars = spec.maxChars ?? DEFAULT_MAX_QUERY_CHARS
  const fields = [...new Set(spec.fields.map(soqlIdentifier))].join(', ')
  const head = `SELECT ${fields} FROM ${soqlIdentifier(spec.object)} WHERE `
  const tail = spec.extraWhere ? ` AND (${spec.extraWhere})` : ''
  const open = `${soqlIdentifier(spec.field)} IN (`
  const fixed = measure(head) + measure(open) + measure(')') + measure(tail)
  const budget = maxChars - fixed
  if (budget <= 0) throw new BridgeError('VALIDATION_FAILED', 'SOQL statement too long even without values')
  return chunkInList(spec.values, budget, measure).map(
    (chunk) => `${head}${open}${chunk.map(soqlString).join(',')})${tail}`,
  )
}
