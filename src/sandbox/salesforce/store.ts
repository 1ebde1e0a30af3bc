import { type IdAllocator, looksLikeId } from './ids.js'
import {
  fileObjectFields,
  formatFileSize,
  KNOWN_OBJECTS,
  PACKAGED_FILE_OBJECTS,
  READ_ONLY_FIELDS,
  STANDARD_FIELDS,
  sdriveFieldPrefix,
} from './schema.js'

export type SObjectRecord = Record<string, unknown>

/** How this org differs from the default: S-Drive installed, versions available, fields the user cannot write. */
export interface OrgShape {
  packaged: boolean
  versions: boolean
  /** "object.field", lower-case. */
  readOnlyFields: ReadonlySet<string>
}

export interface ObjectTable {
  readonly name: string
  /** lower-case name → API name; field names are case-insensitive in Salesforce. */
  readonly fields: Map<string, string>
  /** keyed by the 15-char id */
  records: Map<string, SObjectRecord>
  /** '' or 'cg__' when this is an S-Drive file object */
  fileFieldPrefix?: string
}

/** A write Salesforce would refuse, with the error code it would use. */
export class WriteError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
    readonly fields: string[] = [],
  ) {
    super(message)
  }
}

export function sfDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000')
}

/** All records of the org, in memory. */
export class RecordStore {
  private readonly tables = new Map<string, ObjectTable>()
  /** Validation rules (object + field, lower-case) as an org has them: a message refuses the value. */
  private readonly rules = new Map<string, (value: unknown) => string | null>()

  /** Adds a validation rule on API writes of one field: the check returns an error message or null. */
  addValidationRule(sobject: string, field: string, check: (value: unknown) => string | null): void {
    this.rules.set(`${sobject}.${field}`.toLowerCase(), check)
  }

  constructor(
    private readonly ids: IdAllocator,
    private readonly now: () => number,
    private readonly shape: OrgShape = { packaged: true, versions: true, readOnlyFields: new Set() },
  ) {
    for (const name of Object.keys(KNOWN_OBJECTS)) this.createTable(name)
    if (shape.packaged) for (const name of Object.keys(PACKAGED_FILE_OBJECTS)) this.defineFileObject(name)
  }

  /** The run-as user may read but not write this field (FLS read-only). */
  isReadOnlyForUser(table: ObjectTable, field: string): boolean {
    return this.shape.readOnlyFields.has(`${table.name}.${field}`.toLowerCase())
  }

  /** Every table, for the global describe. */
  allTables(): ObjectTable[] {
    return [...this.tables.values()]
  }

  /** The 3-character id prefix of an object's records (describe's keyPrefix). */
  keyPrefixOf(objectName: string): string {
    return this.ids.prefixOf(objectName)
  }

  /** The table for a known, seeded or custom (`__c`) object; undefined for anything else. */
  table(objectName: string): ObjectTable | undefined {
    const existing = this.tables.get(objectName.toLowerCase())
    if (existing) return existing
    if (/^[A-Za-z][A-Za-z0-9_]*__c$/.test(objectName)) return this.createTable(objectName)
    return undefined
  }

  /** Like table(), but never creates one. */
  existingTable(objectName: string): ObjectTable | undefined {
    return this.tables.get(objectName.toLowerCase())
  }

  defineFileObject(objectName: string, parentField?: string): ObjectTable {
    const table = this.tables.get(objectName.toLowerCase()) ?? this.createTable(objectName)
    table.fileFieldPrefix = sdriveFieldPrefix(table.name)
    const fields = fileObjectFields(table.name, parentField)
    const latest = `${table.fileFieldPrefix}Is_Latest_Version__c`
    this.addFields(table, this.shape.versions ? fields : fields.filter((f) => f !== latest))
    return table
  }

  addFields(table: ObjectTable, names: Iterable<string>): void {
    for (const name of names) {
      if (!table.fields.has(name.toLowerCase())) table.fields.set(name.toLowerCase(), name)
    }
  }

  fieldName(table: ObjectTable, field: string): string | undefined {
    return table.fields.get(field.toLowerCase())
  }

  /** Test seeding: any object, any field; the fields join the object's schema. */
  seed(objectName: string, fields: SObjectRecord): string {
    const table = this.tables.get(objectName.toLowerCase()) ?? this.createTable(objectName)
    this.addFields(
      table,
      Object.keys(fields).filter((f) => f.toLowerCase() !== 'id'),
    )
    return this.insertRecord(table, this.canonical(table, fields, false))
  }

  /** An API create: unknown and read-only fields are refused. */
  create(table: ObjectTable, fields: SObjectRecord): string {
    return this.insertRecord(table, this.canonical(table, fields, true))
  }

  /** Checks an API create without doing it. */
  validateWrite(table: ObjectTable, fields: SObjectRecord): void {
    this.canonical(table, fields, true)
  }

  update(table: ObjectTable, id: string, fields: SObjectRecord): void {
    const record = this.get(table, id)
    if (!record) throw new WriteError('NOT_FOUND', 'The requested resource does not exist')
    Object.assign(record, this.canonical(table, fields, true))
    this.touch(table, record)
  }

  /** Internal writes (S-Drive's own Apex) skip the read-only check but not the schema. */
  patch(table: ObjectTable, id: string, fields: SObjectRecord): void {
    const record = this.get(table, id)
    if (!record) throw new WriteError('NOT_FOUND', 'The requested resource does not exist')
    Object.assign(record, this.canonical(table, fields, false))
    this.touch(table, record)
  }

  /** Moves a record to the recycle bin: gone from query, still in queryAll. */
  softDelete(table: ObjectTable, id: string): void {
    const record = this.get(table, id)
    if (!record) throw new WriteError('ENTITY_IS_DELETED', 'entity is deleted')
    record.IsDeleted = true
    this.touch(table, record)
  }

  hardDelete(table: ObjectTable, id: string): void {
    table.records.delete(id.slice(0, 15))
  }

  get(table: ObjectTable, id: string, includeDeleted = false): SObjectRecord | undefined {
    const record = table.records.get(id.slice(0, 15))
    if (!record || (record.IsDeleted === true && !includeDeleted)) return undefined
    return record
  }

  /** Finds a record by id alone, through its key prefix. */
  find(id: unknown, includeDeleted = false): { table: ObjectTable; record: SObjectRecord } | undefined {
    if (!looksLikeId(id)) return undefined
    const objectName = this.ids.objectOf(id)
    const table = objectName ? this.tables.get(objectName.toLowerCase()) : undefined
    const record = table ? this.get(table, id, includeDeleted) : undefined
    return table && record ? { table, record } : undefined
  }

  list(table: ObjectTable, includeDeleted: boolean): SObjectRecord[] {
    return [...table.records.values()].filter((r) => includeDeleted || r.IsDeleted !== true)
  }

  /** Captures every record so an all-or-none request can roll back. */
  snapshot(): () => void {
    const saved = new Map([...this.tables.values()].map((t) => [t, structuredClone(t.records)] as const))
    return () => {
      for (const [table, records] of saved) table.records = records
    }
  }

  private createTable(objectName: string): ObjectTable {
    const table: ObjectTable = { name: objectName, fields: new Map(), records: new Map() }
    this.tables.set(objectName.toLowerCase(), table)
    this.addFields(table, STANDARD_FIELDS)
    this.addFields(table, KNOWN_OBJECTS[objectName] ?? [])
    this.ids.prefixOf(objectName)
    return table
  }

  private canonical(table: ObjectTable, fields: SObjectRecord, fromApi: boolean): SObjectRecord {
    const out: SObjectRecord = {}
    for (const [name, value] of Object.entries(fields)) {
      if (name === 'attributes') continue
      const canonical = this.fieldName(table, name)
      if (!canonical) {
        throw new WriteError('INVALID_FIELD', `No such column '${name}' on sobject of type ${table.name}`, [
          name,
        ])
      }
      if (
        fromApi &&
        (READ_ONLY_FIELDS.has(canonical.toLowerCase()) || this.isReadOnlyForUser(table, canonical))
      ) {
        throw new WriteError(
          'INVALID_FIELD_FOR_INSERT_UPDATE',
          `Unable to create/update fields: ${canonical}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
          [canonical],
        )
      }
      const rule = fromApi ? this.rules.get(`${table.name}.${canonical}`.toLowerCase()) : undefined
      const refusal = rule?.(value) ?? null
      if (refusal !== null) throw new WriteError('FIELD_CUSTOM_VALIDATION_EXCEPTION', refusal, [canonical])
      out[canonical] = value
    }
    return out
  }

  private insertRecord(table: ObjectTable, fields: SObjectRecord): string {
    const id = this.ids.next(table.name)
    const stamp = sfDateTime(this.now())
    const record: SObjectRecord = {}
    for (const field of table.fields.values()) record[field] = null
    Object.assign(record, {
      Name: null,
      CreatedDate: stamp,
      LastModifiedDate: stamp,
      SystemModstamp: stamp,
      CreatedById: '005000000000001AAA',
      LastModifiedById: '005000000000001AAA',
      OwnerId: '005000000000001AAA',
      ...fields,
      Id: id,
      IsDeleted: false,
    })
    if (table.fileFieldPrefix !== undefined) this.applyFileDefaults(table.fileFieldPrefix, record)
    table.records.set(id.slice(0, 15), record)
    return id
  }

  private applyFileDefaults(prefix: string, record: SObjectRecord): void {
    const defaults: Record<string, boolean> = {
      WIP__c: true,
      Is_Deleted__c: false,
      Is_Latest_Version__c: true,
      Is_Parent_Deleted__c: false,
      Private__c: false,
    }
    for (const [field, value] of Object.entries(defaults)) {
      if (record[`${prefix}${field}`] === null || record[`${prefix}${field}`] === undefined) {
        record[`${prefix}${field}`] = value
      }
    }
    this.deriveFileSize(prefix, record)
  }

  private deriveFileSize(prefix: string, record: SObjectRecord): void {
    const bytes = Number(record[`${prefix}File_Size_in_Bytes__c`])
    const shortcut = record[`${prefix}Shortcut__c`]
    if (typeof shortcut === 'string' && shortcut.includes(':')) {
      record[`${prefix}File_Size__c`] = shortcut.slice(shortcut.indexOf(':') + 1)
    } else if (record[`${prefix}File_Size_in_Bytes__c`] !== null && Number.isFinite(bytes)) {
      record[`${prefix}File_Size__c`] = formatFileSize(bytes)
    }
  }

  private touch(table: ObjectTable, record: SObjectRecord): void {
    const stamp = sfDateTime(this.now())
    record.LastModifiedDate = stamp
    record.SystemModstamp = stamp
    if (table.fileFieldPrefix !== undefined) this.deriveFileSize(table.fileFieldPrefix, record)
  }
}
