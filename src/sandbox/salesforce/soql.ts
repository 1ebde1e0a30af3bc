/** Runs SOQL against the in-memory store: one object, parent paths, WHERE, ORDER BY, LIMIT/OFFSET, COUNT(). */
import { type FieldType, type OrderByClause, parseQuery, type Query } from '@jetstreamapp/soql-parser-js'
import { compareValues, SoqlError } from './soql-values.js'
import { compileWhere, type Predicate, type ValueReader } from './soql-where.js'
import type { ObjectTable, RecordStore, SObjectRecord } from './store.js'

export interface QueryOutcome {
  totalSize: number
  /** Shaped like the REST API's records (attributes + selected fields). */
  records: SObjectRecord[]
}

export interface QueryOptions {
  includeDeleted: boolean
  apiVersion: string
}

export function runSoql(store: RecordStore, soql: string, options: QueryOptions): QueryOutcome {
  let query: Query
  try {
    query = parseQuery(soql)
  } catch (error) {
    throw new SoqlError('MALFORMED_QUERY', `unexpected token: ${(error as Error).message}`)
  }
  return new QueryRunner(store, options).run(query)
}

interface CompiledPath {
  /** relationship names as the API spells them, outermost first */
  relationships: { key: string; lookupField: string }[]
  leaf: string
  read: ValueReader
}

const USER_RELATIONSHIPS = new Set(['owner', 'createdby', 'lastmodifiedby'])

class QueryRunner {
  constructor(
    private readonly store: RecordStore,
    private readonly options: QueryOptions,
  ) {}

  run(query: Query): QueryOutcome {
    const table = this.fromTable(query)
    const countOnly = isCountQuery(query.fields ?? [])
    const paths = countOnly ? [] : this.selectPaths(table, query)
    const matched = this.matchingRecords(table, query)
    if (countOnly) return { totalSize: matched.length, records: [] }
    return { totalSize: matched.length, records: matched.map((r) => this.project(table, r, paths)) }
  }

  private fromTable(query: Query): ObjectTable {
    if (!query.sObject) throw new SoqlError('MALFORMED_QUERY', 'FROM needs an object')
    const unsupported = (['groupBy', 'having', 'withDataCategory', 'for', 'update'] as const).filter(
      (clause) => query[clause] !== undefined,
    )
    if (unsupported.length > 0) {
      throw new SoqlError('MALFORMED_QUERY', `the sandbox does not support ${unsupported.join(', ')}`)
    }
    const table = this.store.table(query.sObject)
    if (!table) {
      throw new SoqlError(
        'INVALID_TYPE',
        `sObject type '${query.sObject}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
      )
    }
    return table
  }

  private matchingRecords(table: ObjectTable, query: Query): SObjectRecord[] {
    const predicate: Predicate | undefined = query.where
      ? compileWhere(query.where, {
          reader: (path) => this.compilePath(table, splitPath(path, table, query.sObjectAlias)).read,
          subqueryValues: (sub) => this.subqueryValues(sub),
        })
      : undefined
    let records = this.store.list(table, this.options.includeDeleted)
    if (predicate) records = records.filter(predicate)
    const orderBy = query.orderBy === undefined ? [] : [query.orderBy].flat()
    if (orderBy.length > 0) records = this.sort(table, records, orderBy, query.sObjectAlias)
    const offset = query.offset ?? 0
    const end = query.limit === undefined ? undefined : offset + query.limit
    return records.slice(offset, end)
  }

  private subqueryValues(sub: Query): unknown[] {
    const table = this.fromTable(sub)
    const fields = sub.fields ?? []
    const only = fields[0]
    if (fields.length !== 1 || !only || (only.type !== 'Field' && only.type !== 'FieldRelationship')) {
      throw new SoqlError('MALFORMED_QUERY', 'a semi-join subquery selects exactly one field')
    }
    const path = this.compilePath(table, fieldSegments(only, table, sub.sObjectAlias))
    return this.matchingRecords(table, sub).map(path.read)
  }

  private sort(table: ObjectTable, records: SObjectRecord[], orderBy: OrderByClause[], alias?: string) {
    const keys = orderBy.map((clause) => {
      if (!('field' in clause)) throw new SoqlError('MALFORMED_QUERY', 'ORDER BY functions are not supported')
      const descending = clause.order === 'DESC'
      const nullsFirst = clause.nulls ? clause.nulls === 'FIRST' : !descending
      return {
        read: this.compilePath(table, splitPath(clause.field, table, alias)).read,
        descending,
        nullsFirst,
      }
    })
    return [...records].sort((a, b) => {
      for (const key of keys) {
        const x = key.read(a)
        const y = key.read(b)
        const xNull = x === null || x === undefined
        const yNull = y === null || y === undefined
        if (xNull || yNull) {
          if (xNull && yNull) continue
          return xNull === key.nullsFirst ? -1 : 1
        }
        const order = compareValues(x, y) ?? 0
        if (order !== 0) return key.descending ? -order : order
      }
      return 0
    })
  }

  private selectPaths(table: ObjectTable, query: Query): CompiledPath[] {
    return (query.fields ?? []).map((field) => {
      if (field.type !== 'Field' && field.type !== 'FieldRelationship') {
        throw new SoqlError('MALFORMED_QUERY', `the sandbox does not support ${field.type} in SELECT`)
      }
      return this.compilePath(table, fieldSegments(field, table, query.sObjectAlias))
    })
  }

  /** Resolves `Rel1.Rel2.Field` through lookup fields (Account → AccountId, cg__Case__r → cg__Case__c). */
  private compilePath(table: ObjectTable, segments: string[]): CompiledPath {
    const relationships: CompiledPath['relationships'] = []
    let staticTable: ObjectTable | undefined = table
    const leafName = segments[segments.length - 1]!
    for (const relationship of segments.slice(0, -1)) {
      const lookupName = relationship.toLowerCase().endsWith('__r')
        ? `${relationship.slice(0, -3)}__c`
        : `${relationship}Id`
      const lookupField = staticTable ? this.store.fieldName(staticTable, lookupName) : lookupName
      if (!lookupField) {
        throw new SoqlError(
          'INVALID_FIELD',
          `Didn't understand relationship '${relationship}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
        )
      }
      const key = lookupField.endsWith('__c') ? `${lookupField.slice(0, -3)}__r` : lookupField.slice(0, -2)
      relationships.push({ key, lookupField })
      staticTable = this.relationshipTarget(relationship)
    }
    const staticLeaf = staticTable ? this.store.fieldName(staticTable, leafName) : leafName
    if (!staticLeaf) {
      throw new SoqlError(
        'INVALID_FIELD',
        `No such column '${leafName}' on entity '${staticTable?.name ?? table.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
      )
    }
    const read: ValueReader = (record) => {
      let current: { table: ObjectTable; record: SObjectRecord } | undefined = { table, record }
      for (const { lookupField } of relationships) {
        current = current ? this.store.find(current.record[lookupField], true) : undefined
      }
      if (!current) return null
      const leaf = this.store.fieldName(current.table, leafName)
      return leaf === undefined ? null : (current.record[leaf] ?? null)
    }
    return { relationships, leaf: staticLeaf, read }
  }

  /** The parent object a relationship name implies, when the sandbox knows it; else checked at run time only. */
  private relationshipTarget(relationship: string): ObjectTable | undefined {
    if (USER_RELATIONSHIPS.has(relationship.toLowerCase())) return this.store.existingTable('User')
    if (relationship.toLowerCase().endsWith('__r')) {
      const base = relationship.slice(0, -3).replace(/^cg__/i, '')
      return this.store.existingTable(base) ?? this.store.existingTable(`${base}__c`)
    }
    return this.store.existingTable(relationship)
  }

  private project(table: ObjectTable, record: SObjectRecord, paths: CompiledPath[]): SObjectRecord {
    const out: SObjectRecord = { attributes: this.attributes(table.name, record.Id) }
    for (const path of paths) {
      let target = out
      let current: { table: ObjectTable; record: SObjectRecord } | undefined = { table, record }
      for (const { key, lookupField } of path.relationships) {
        const linked = this.store.find(current.record[lookupField], true)
        if (!linked) {
          if (!(key in target)) target[key] = null
          current = undefined
          break
        }
        if (!target[key]) target[key] = { attributes: this.attributes(linked.table.name, linked.record.Id) }
        target = target[key] as SObjectRecord
        current = linked
      }
      if (!current) continue
      const leaf = this.store.fieldName(current.table, path.leaf)
      target[leaf ?? path.leaf] = leaf === undefined ? null : (current.record[leaf] ?? null)
    }
    return out
  }

  private attributes(type: string, id: unknown): { type: string; url: string } {
    return { type, url: `/services/data/v${this.options.apiVersion}/sobjects/${type}/${String(id)}` }
  }
}

function isCountQuery(fields: FieldType[]): boolean {
  const [only] = fields
  return (
    fields.length === 1 &&
    only?.type === 'FieldFunctionExpression' &&
    only.functionName.toUpperCase() === 'COUNT' &&
    only.parameters.length === 0
  )
}

function fieldSegments(field: FieldType, table: ObjectTable, alias?: string): string[] {
  if (field.type === 'FieldRelationship')
    return stripObjectPrefix([...field.relationships, field.field], table, alias)
  if (field.type === 'Field') return splitPath(field.field, table, alias)
  throw new SoqlError('MALFORMED_QUERY', `unsupported field ${field.type}`)
}

function splitPath(path: string, table: ObjectTable, alias?: string): string[] {
  return stripObjectPrefix(path.split('.'), table, alias)
}

/** `SELECT Account.Name FROM Account` may prefix fields with the object name or alias. */
function stripObjectPrefix(segments: string[], table: ObjectTable, alias?: string): string[] {
  const first = segments[0]?.toLowerCase()
  if (segments.length > 1 && (first === table.name.toLowerCase() || first === alias?.toLowerCase())) {
    return segments.slice(1)
  }
  return segments
}
