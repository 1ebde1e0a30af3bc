/**
 * WHERE clauses. The parser hands back a flat chain with paren counts on each
 * condition, so the chain is turned back into tokens and parsed with the usual
 * precedence (NOT > AND > OR).
 */
import type { Condition, Operator, Query, WhereClause } from '@jetstreamapp/soql-parser-js'
import {
  compareValues,
  type Literal,
  likePattern,
  parseLiteral,
  SoqlError,
  valuesEqual,
} from './soql-values.js'
import type { SObjectRecord } from './store.js'

export type Predicate = (record: SObjectRecord) => boolean
export type ValueReader = (record: SObjectRecord) => unknown

export interface WhereContext {
  /** A reader for a (dotted) field path; throws INVALID_FIELD for unknown fields. */
  reader(path: string): ValueReader
  /** Values of the single field a semi-join subquery selects. */
  subqueryValues(query: Query): unknown[]
}

type Token = '(' | ')' | 'AND' | 'OR' | 'NOT' | Predicate

export function compileWhere(where: WhereClause, context: WhereContext): Predicate {
  const tokens = tokenize(where, context)
  let position = 0
  const peek = (): Token | undefined => tokens[position]

  const parseOr = (): Predicate => {
    const parts = [parseAnd()]
    while (peek() === 'OR') {
      position++
      parts.push(parseAnd())
    }
    return parts.length === 1 ? parts[0]! : (r) => parts.some((p) => p(r))
  }
  const parseAnd = (): Predicate => {
    const parts = [parseUnary()]
    while (peek() === 'AND') {
      position++
      parts.push(parseUnary())
    }
    return parts.length === 1 ? parts[0]! : (r) => parts.every((p) => p(r))
  }
  const parseUnary = (): Predicate => {
    const token = tokens[position++]
    if (token === 'NOT') {
      const inner = parseUnary()
      return (r) => !inner(r)
    }
    if (token === '(') {
      const inner = parseOr()
      if (tokens[position++] !== ')')
        throw new SoqlError('MALFORMED_QUERY', 'unbalanced parentheses in WHERE')
      return inner
    }
    if (typeof token === 'function') return token
    throw new SoqlError('MALFORMED_QUERY', 'unexpected token in WHERE')
  }

  const predicate = parseOr()
  if (position !== tokens.length) throw new SoqlError('MALFORMED_QUERY', 'unexpected token in WHERE')
  return predicate
}

function tokenize(where: WhereClause, context: WhereContext): Token[] {
  const tokens: Token[] = []
  let node: WhereClause | undefined = where
  while (node) {
    const left = node.left as (Condition & { openParen?: number; closeParen?: number }) | null
    if (left) {
      tokens.push(...Array<Token>(left.openParen ?? 0).fill('('))
      if ('field' in left || 'fn' in left) tokens.push(compileCondition(left, context))
      tokens.push(...Array<Token>(left.closeParen ?? 0).fill(')'))
    }
    if ('operator' in node && node.operator) tokens.push(node.operator)
    node = 'right' in node ? node.right : undefined
  }
  return tokens
}

function compileCondition(condition: Condition, context: WhereContext): Predicate {
  if (!('field' in condition)) {
    throw new SoqlError('MALFORMED_QUERY', 'functions in WHERE are not supported by the sandbox')
  }
  const read = context.reader(condition.field)
  const operator = condition.operator
  if ('valueQuery' in condition) {
    const values = context.subqueryValues((condition as { valueQuery: Query }).valueQuery)
    return setPredicate(read, operator, values)
  }
  const { value, literalType } = condition as { value: string | string[]; literalType?: string | string[] }
  if (operator === 'LIKE') {
    if (Array.isArray(value) || literalType !== 'STRING') {
      throw new SoqlError('MALFORMED_QUERY', 'LIKE needs a string literal')
    }
    const pattern = likePattern(value)
    return (r) => {
      const v = read(r)
      return typeof v === 'string' && pattern.test(v)
    }
  }
  const literals = (Array.isArray(value) ? value : [value]).map((raw, i) =>
    parseLiteral(raw, Array.isArray(literalType) ? literalType[i] : literalType),
  )
  if (operator === 'IN' || operator === 'NOT IN' || operator === 'INCLUDES' || operator === 'EXCLUDES') {
    return setPredicate(read, operator, literals)
  }
  if (literals.length !== 1) throw new SoqlError('MALFORMED_QUERY', `${operator} needs a single value`)
  return comparison(read, operator, literals[0]!)
}

function comparison(read: ValueReader, operator: Operator, literal: Literal): Predicate {
  switch (operator) {
    case '=':
      return (r) => valuesEqual(read(r), literal)
    case '!=':
      return (r) => !valuesEqual(read(r), literal)
    default: {
      const test = ordering[operator]
      if (!test) throw new SoqlError('MALFORMED_QUERY', `operator ${operator} is not supported`)
      return (r) => {
        const order = compareValues(read(r), literal)
        return order !== undefined && test(order)
      }
    }
  }
}

const ordering: Partial<Record<Operator, (order: number) => boolean>> = {
  '<': (o) => o < 0,
  '<=': (o) => o <= 0,
  '>': (o) => o > 0,
  '>=': (o) => o >= 0,
}

function setPredicate(read: ValueReader, operator: Operator, values: readonly unknown[]): Predicate {
  switch (operator) {
    case 'IN':
      return (r) => {
        const v = read(r)
        return values.some((x) => valuesEqual(v, x))
      }
    case 'NOT IN':
      return (r) => {
        const v = read(r)
        return !values.some((x) => valuesEqual(v, x))
      }
    case 'INCLUDES':
    case 'EXCLUDES': {
      const wanted = values.map((x) => String(x).toLowerCase().split(';'))
      return (r) => {
        const v = read(r)
        const have = new Set(typeof v === 'string' ? v.toLowerCase().split(';') : [])
        const hit = wanted.some((set) => set.every((item) => have.has(item)))
        return operator === 'INCLUDES' ? hit : !hit
      }
    }
    default:
      throw new SoqlError('MALFORMED_QUERY', `operator ${operator} needs a single value`)
  }
}
