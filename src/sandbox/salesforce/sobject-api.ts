/** sObject rows and sObject Collections. */
import { type ApiResult, sfError } from './http.js'
import { READ_ONLY_FIELDS, SDRIVE_FILE_FIELDS } from './schema.js'
import { type ObjectTable, type RecordStore, type SObjectRecord, WriteError } from './store.js'

const COLLECTION_LIMIT = 200

interface RecordError {
  statusCode: string
  message: string
  fields: string[]
}

interface SaveResult {
  id?: string
  success: boolean
  errors: RecordError[]
}

function notFound(): ApiResult {
  return sfError(404, 'NOT_FOUND', 'The requested resource does not exist')
}

function recordError(error: unknown): RecordError {
  if (error instanceof WriteError)
    return { statusCode: error.errorCode, message: error.message, fields: error.fields }
  throw error
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

export class SObjectApi {
  constructor(
    private readonly store: RecordStore,
    private readonly apiVersion: () => string,
    private readonly fieldTypes: Readonly<Record<string, string>> = {},
  ) {}

  /** GET …/sobjects: every object the user can see, by name. */
  describeGlobal(): ApiResult {
    const sobjects = this.store.allTables().map((table) => ({
      name: table.name,
      label: table.name,
      custom: table.name.endsWith('__c'),
      keyPrefix: this.store.keyPrefixOf(table.name),
      queryable: true,
    }))
    return { status: 200, body: { encoding: 'UTF-8', maxBatchSize: 200, sobjects } }
  }

  /** What describe says of one field: its type, and whether the run-as user may write it. */
  private fieldDescription(table: ObjectTable, name: string) {
    const type = this.fieldTypes[`${table.name}.${name}`] ?? defaultFieldType(table, name)
    const writable = !READ_ONLY_FIELDS.has(name.toLowerCase()) && !this.store.isReadOnlyForUser(table, name)
    return {
      name,
      label: name,
      type,
      custom: name.endsWith('__c'),
      createable: writable,
      updateable: writable,
      nillable: name !== 'Id',
    }
  }

  view(table: ObjectTable, record: SObjectRecord, fields?: string[]): SObjectRecord {
    const out: SObjectRecord = {
      attributes: {
        type: table.name,
        url: `/services/data/v${this.apiVersion()}/sobjects/${table.name}/${record.Id}`,
      },
    }
    for (const field of fields ?? table.fields.values()) out[field] = record[field] ?? null
    return out
  }

  create(typeName: string, body: unknown): ApiResult {
    const table = this.store.table(typeName)
    if (!table) return notFound()
    if (!isObject(body)) return sfError(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object')
    try {
      return { status: 201, body: { id: this.store.create(table, body), success: true, errors: [] } }
    } catch (error) {
      const e = recordError(error)
      return sfError(400, e.statusCode, e.message, e.fields)
    }
  }

  read(typeName: string, id: string, fieldList: string | null): ApiResult {
    const table = this.store.table(typeName)
    const record = table && this.store.get(table, id)
    if (!table || !record) return notFound()
    let fields: string[] | undefined
    if (fieldList) {
      fields = []
      for (const name of fieldList.split(',').map((f) => f.trim())) {
        const canonical = this.store.fieldName(table, name)
        if (!canonical)
          return sfError(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type ${table.name}`)
        fields.push(canonical)
      }
    }
    return { status: 200, body: this.view(table, record, fields) }
  }

  update(typeName: string, id: string, body: unknown): ApiResult {
    const table = this.store.table(typeName)
    if (!table || !this.store.get(table, id)) return notFound()
    if (!isObject(body)) return sfError(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object')
    try {
      this.store.update(table, id, body)
      return { status: 204 }
    } catch (error) {
      const e = recordError(error)
      return sfError(400, e.statusCode, e.message, e.fields)
    }
  }

  remove(typeName: string, id: string): ApiResult {
    const table = this.store.table(typeName)
    if (!table || !this.store.get(table, id)) return notFound()
    this.store.softDelete(table, id)
    return { status: 204 }
  }

  describe(typeName: string): ApiResult {
    // Not table(): that invents any custom object on first use, and a real org's describe of an
    // object nobody created is a 404 (the bridge's configuration check relies on it).
    const table = this.store.existingTable(typeName)
    if (!table) return notFound()
    const fields = [...table.fields.values()].map((name) => this.fieldDescription(table, name))
    return {
      status: 200,
      body: {
        name: table.name,
        label: table.name,
        custom: table.name.endsWith('__c'),
        keyPrefix: this.store.keyPrefixOf(table.name),
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        fields,
      },
    }
  }

  /** POST/PATCH …/composite/sobjects: create or update up to 200 records. */
  saveCollection(body: unknown, mode: 'create' | 'update'): ApiResult {
    if (!isObject(body) || !Array.isArray(body.records)) {
      return sfError(400, 'JSON_PARSER_ERROR', 'The request body needs a records array')
    }
    const records = body.records as unknown[]
    if (records.length > COLLECTION_LIMIT) {
      return sfError(
        400,
        'EXCEEDED_ID_LIMIT',
        `record limit reached. cannot submit more than ${COLLECTION_LIMIT} records into this call`,
      )
    }
    const plans = records.map((record) => this.planSave(record, mode))
    return this.finish(body.allOrNone === true, plans)
  }

  /** DELETE …/composite/sobjects?ids=…&allOrNone=… */
  deleteCollection(ids: string[], allOrNone: boolean): ApiResult {
    if (ids.length > COLLECTION_LIMIT) {
      return sfError(
        400,
        'EXCEEDED_ID_LIMIT',
        `record limit reached. cannot submit more than ${COLLECTION_LIMIT} records into this call`,
      )
    }
    const plans = ids.map((id): Plan => {
      const found = this.store.find(id)
      if (!found)
        return { id, error: { statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] } }
      return { id, apply: () => this.store.softDelete(found.table, id) }
    })
    return this.finish(allOrNone, plans)
  }

  private planSave(record: unknown, mode: 'create' | 'update'): Plan {
    const failed = (statusCode: string, message: string, fields: string[] = []): Plan => ({
      error: { statusCode, message, fields },
    })
    if (!isObject(record)) return failed('JSON_PARSER_ERROR', 'each record must be an object')
    const attributes = record.attributes
    const typeName = isObject(attributes) && typeof attributes.type === 'string' ? attributes.type : undefined
    if (!typeName) return failed('INVALID_TYPE', 'Must specify a type in attributes')
    const table = this.store.table(typeName)
    if (!table) return failed('INVALID_TYPE', `sObject type '${typeName}' is not supported.`)
    const { Id: rawId, attributes: _, ...fields } = record
    try {
      if (mode === 'create') {
        if (rawId !== undefined) return failed('INVALID_FIELD', 'cannot specify Id in an insert call', ['Id'])
        this.store.validateWrite(table, fields)
        return { apply: () => this.store.create(table, fields) }
      }
      if (typeof rawId !== 'string')
        return failed('MISSING_ARGUMENT', 'Id not specified in an update call', ['Id'])
      if (!this.store.get(table, rawId)) {
        return {
          id: rawId,
          error: { statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] },
        }
      }
      this.store.validateWrite(table, fields)
      return { id: rawId, apply: () => this.store.update(table, rawId, fields) }
    } catch (error) {
      return { ...(typeof rawId === 'string' ? { id: rawId } : {}), error: recordError(error) }
    }
  }

  private finish(allOrNone: boolean, plans: Plan[]): ApiResult {
    const anyFailed = plans.some((p) => p.error)
    const results: SaveResult[] = plans.map((plan) => {
      if (plan.error) return { ...(plan.id ? { id: plan.id } : {}), success: false, errors: [plan.error] }
      if (allOrNone && anyFailed) {
        return {
          ...(plan.id ? { id: plan.id } : {}),
          success: false,
          errors: [
            {
              statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
              message:
                'Record rolled back because not all records were valid and the request was using AllOrNone header',
              fields: [],
            },
          ],
        }
      }
      const created = plan.apply?.()
      return { id: typeof created === 'string' ? created : plan.id, success: true, errors: [] }
    })
    return { status: 200, body: results }
  }
}

interface Plan {
  id?: string
  error?: RecordError
  apply?: () => unknown
}

const SDRIVE_FIELDS: ReadonlySet<string> = new Set(SDRIVE_FILE_FIELDS.map((f) => f.toLowerCase()))
const BOOLEAN_FIELDS = new Set([
  'wip__c',
  'is_deleted__c',
  'is_latest_version__c',
  'is_parent_deleted__c',
  'private__c',
])

/** A field's type as its name suggests it: ids and parent lookups are references, S-Drive flags booleans. */
function defaultFieldType(table: ObjectTable, name: string): string {
  if (name === 'Id') return 'id'
  if (/Date$/.test(name) || name === 'SystemModstamp') return 'datetime'
  if (/^(IsDeleted|IsActive|IsSandbox)$/.test(name)) return 'boolean'
  if (/[a-z]Id$/.test(name)) return 'reference'
  if (table.fileFieldPrefix === undefined) return 'string'
  const bare = name.slice(table.fileFieldPrefix.length).toLowerCase()
  if (BOOLEAN_FIELDS.has(bare)) return 'boolean'
  if (bare === 'file_size_in_bytes__c' || bare === 'page_count__c') return 'double'
  if (bare === 'parent__c' || (name.endsWith('__c') && !SDRIVE_FIELDS.has(bare))) return 'reference'
  return 'string'
}
