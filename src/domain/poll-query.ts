/**
 * The polling trigger's SOQL and the values it derives from a polled
 * record, without I/O. The `where` condition is admin configuration, but it
 * is still checked to be one condition expression, so it can never carry a
 * LIMIT, ORDER BY or a second statement into the query the bridge builds
 * around it.
 */
import { createHash } from 'node:crypto'
import { QUERY_URL_BUDGET, selectWhereIn, soqlIdentifier, urlLength } from './soql.js'

/** Clauses that end a WHERE expression: none may appear in `where`, at any depth. */
const clauseKeywords = new Set([
  'LIMIT',
  'ORDER',
  'GROUP',
  'HAVING',
  'OFFSET',
  'FOR',
  'WITH',
  'USING',
  'UPDATE',
  'TYPEOF',
])

type Token = { kind: 'string' | 'word' | 'other'; text: string }

/** Splits SOQL into string literals, words and single other characters; null when a string is not closed. */
function tokenize(text: string): Token[] | null {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i] as string
    if (c === "'") {
      let j = i + 1
      while (j < text.length && text[j] !== "'") j += text[j] === '\\' ? 2 : 1
      if (j >= text.length) return null
      tokens.push({ kind: 'string', text: text.slice(i, j + 1) })
      i = j + 1
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i))?.[0] as string
      tokens.push({ kind: 'word', text: word })
      i += word.length
    } else {
      if (!/\s/.test(c)) tokens.push({ kind: 'other', text: c })
      i++
    }
  }
  return tokens
}

/**
 * Why `where` is not one SOQL condition expression, or null when it is:
 * strings closed, parentheses balanced (so it cannot close the bridge's own
 * parenthesis around it), no clause keyword, no statement separator, and a
 * sub-select only inside parentheses (a semi-join: `Id IN (SELECT …)`).
 */
export function pollWhereProblem(where: string): string | null {
  const tokens = tokenize(where)
  if (tokens === null) return 'a string literal is not closed'
  if (tokens.length === 0) return 'the condition is empty'
  let depth = 0
  for (const token of tokens) {
    if (token.kind === 'string') continue
    const upper = token.text.toUpperCase()
    if (token.kind === 'other') {
      if (token.text === '(') depth++
      if (token.text === ')' && --depth < 0) return 'a ")" closes more than was opened'
      if (token.text === ';' || token.text === '"' || token.text === '`') {
        return `"${token.text}" has no place in a condition`
      }
      continue
    }
    if (clauseKeywords.has(upper))
      return `${upper} is not allowed: the condition must be one WHERE expression`
    if ((upper === 'SELECT' || upper === 'FROM') && depth === 0) {
      return `${upper} is only allowed inside a parenthesised sub-select`
    }
  }
  return depth === 0 ? null : 'a "(" is not closed'
}

/** The polling trigger as the poller reads it (config: flows[].trigger.poll). */
export interface PollSpec {
  object: string
  where: string
  claim: Record<string, string | number | boolean | null>
  limit: number
  recordIdField: string
  fileIdField?: string | undefined
  metadataFields?: readonly string[] | undefined
}

/** The field whose change tells one request of a record from the next one (every object has it). */
export const STAMP_FIELD = 'SystemModstamp'

/** Fields each polled record is read with. */
export function pollFields(spec: PollSpec): string[] {
  const fields = ['Id', STAMP_FIELD, spec.recordIdField, ...Object.keys(spec.claim)]
  if (spec.fileIdField) fields.push(spec.fileIdField)
  fields.push(...(spec.metadataFields ?? []))
  return [...new Set(fields.map(soqlIdentifier))]
}

/** The tick's one query: the requested records, oldest change first, at most `limit`. */
export function pollQuery(spec: PollSpec, limit: number): string {
  return `SELECT ${pollFields(spec).join(', ')} FROM ${soqlIdentifier(spec.object)} WHERE (${spec.where}) ORDER BY ${STAMP_FIELD} ASC, Id ASC LIMIT ${Math.max(1, Math.floor(limit))}`
}

/** Claimed records read again after a crash (are their claims written?), in as many queries as the ids need. */
export function claimCheckQueries(spec: PollSpec, ids: readonly string[]): string[] {
  return selectWhereIn({
    fields: pollFields(spec),
    object: spec.object,
    field: 'Id',
    values: ids,
    maxChars: QUERY_URL_BUDGET,
    measure: urlLength,
  })
}

/**
 * The job's idempotency key: the flow, the record and the state it was
 * requested in. A crash between claim and job, or two pollers, make the same
 * key, so one job; a record requested again later has another stamp.
 */
export function pollJobKey(flow: string, recordId: string, stamp: string): string {
  const digest = createHash('sha256').update(`${flow}\n${recordId}\n${stamp}`).digest('hex').slice(0, 32)
  return `poll:${recordId}:${digest}`
}

/** Whether a record read back already carries every claim value (the claim was written). */
export function claimHolds(record: Record<string, unknown>, claim: PollSpec['claim']): boolean {
  return Object.entries(claim).every(([field, value]) => {
    const actual = record[field]
    if (value === null) return actual === null || actual === undefined
    return actual !== null && actual !== undefined && String(actual) === String(value)
  })
}

export interface PolledRequest {
  recordIds: string[]
  fileIds?: string[]
  metadata?: Record<string, string>
}

/** A field of a query result: `Parent.Field` is nested in the answer ({Parent: {Field}}). */
function valueAt(record: Record<string, unknown>, path: string): unknown {
  let value: unknown = record
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

/** What the job is asked to export, as POST /v1/exports would be given it; null if the record names no record. */
export function pollRequestOf(record: Record<string, unknown>, spec: PollSpec): PolledRequest | null {
  const recordId = valueAt(record, spec.recordIdField)
  if (typeof recordId !== 'string' || recordId === '') return null
  const request: PolledRequest = { recordIds: [recordId] }
  const fileId = spec.fileIdField ? valueAt(record, spec.fileIdField) : undefined
  if (typeof fileId === 'string' && fileId !== '') request.fileIds = [fileId]
  const metadata: Record<string, string> = {}
  for (const field of spec.metadataFields ?? []) {
    const value = valueAt(record, field)
    if (value !== null && value !== undefined) metadata[field] = String(value)
  }
  if (Object.keys(metadata).length > 0) request.metadata = metadata
  return request
}
