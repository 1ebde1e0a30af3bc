/**
 * Everything the configuration needs of the org's schema, with the access
 * the run-as user must have and the key path that names it; and the verdict
 * on each need from the describes. Pure.
 *
 * Read access is implied by describe: a field the user cannot read is not
 * listed at all. Write access is describe's `createable` / `updateable` of
 * the field (or the object's `deletable` for sdrive.replaceMode: delete),
 * which Salesforce computes for the calling user from FLS and CRUD.
 */
import { formatKeyPath, type KeyPath } from '../config/key-path.js'
import type { BridgeConfig, InboundFlow, OutboundFlow, StatusField, StatusFlow } from '../config/schema.js'
import type { ObjectDescription } from '../ports/salesforce.js'
import { flowSchemaNeeds } from './flow-schema.js'
import { check, type OrgCheck } from './org-check.js'

export type Access = 'read' | 'create' | 'update' | 'delete'

export interface OrgNeed {
  object: string
  /** null: the object itself (its existence, or object-level access). */
  field: string | null
  access: Access
  /** Acceptable Salesforce field types; undefined: any. */
  types?: readonly string[]
  path: KeyPath
}

type NeedsConfig = Pick<BridgeConfig, 'flows' | 'sdrive'>

const prefixOf = (fileObject: string) => (fileObject.toLowerCase().startsWith('cg__') ? 'cg__' : '')
const REFERENCE = ['reference'] as const
const BOOLEAN = ['boolean'] as const

/** Status field types → the Salesforce field types their values can be written to. */
const STATUS_TYPES: Record<StatusField['type'], readonly string[]> = {
  string: [
    'string',
    'textarea',
    'picklist',
    'multipicklist',
    'combobox',
    'email',
    'phone',
    'url',
    'encryptedstring',
  ],
  number: ['double', 'currency', 'percent', 'int', 'long'],
  integer: ['int', 'long', 'double', 'currency', 'percent'],
  boolean: ['boolean'],
  date: ['date'],
  datetime: ['datetime'],
  picklist: ['picklist', 'multipicklist', 'combobox', 'string'],
}

/** The S-Drive fields the bridge reads from every file object it uses. */
function fileObjectNeeds(fileObject: string, parentField: string, path: KeyPath): OrgNeed[] {
  const p = prefixOf(fileObject)
  const read = [
    'File_Name__c',
    'File_Size_in_Bytes__c',
    'Key__c',
    'WIP__c',
    'Is_Deleted__c',
    'Parent_Folder_Id__c',
    'Content_Type__c',
  ]
  return [
    { object: fileObject, field: null, access: 'read', path },
    { object: fileObject, field: parentField, access: 'read', types: REFERENCE, path },
    ...read.map((f): OrgNeed => ({ object: fileObject, field: `${p}${f}`, access: 'read', path })),
  ]
}

/** What removing a file needs under sdrive.replaceMode. */
function removalNeeds(fileObject: string, config: NeedsConfig): OrgNeed[] {
  const path: KeyPath = ['sdrive', 'replaceMode']
  if (config.sdrive.replaceMode === 'delete')
    return [{ object: fileObject, field: null, access: 'delete', path }]
  const field = `${prefixOf(fileObject)}Is_Deleted__c`
  return [{ object: fileObject, field, access: 'update', types: BOOLEAN, path }]
}

function fieldMapNeeds(object: string, fields: Record<string, string> | undefined, path: KeyPath): OrgNeed[] {
  return Object.keys(fields ?? {}).map((field) => ({
    object,
    field,
    access: 'update',
    path: [...path, field],
  }))
}

function inboundNeeds(flow: InboundFlow, i: number, config: NeedsConfig): OrgNeed[] {
  const at: KeyPath = ['flows', i]
  const needs: OrgNeed[] = flowSchemaNeeds(flow, i).map((n) => ({
    object: n.object,
    field: n.field,
    // target.fields are written on the file record once it is uploaded; every other name is read.
    access: n.path.includes('target') && n.path.includes('fields') ? 'update' : 'read',
    path: n.path,
    ...(n.label.startsWith('parent field') ? { types: REFERENCE } : {}),
  }))
  const targets = [
    { target: flow.target, path: [...at, 'target'] as KeyPath },
    ...flow.match.flatMap((rule, r) =>
      rule.target?.fileObject
        ? [{ target: { ...flow.target, ...rule.target }, path: [...at, 'match', r, 'target'] as KeyPath }]
        : [],
    ),
  ]
  for (const { target, path } of targets) {
    needs.push(...fileObjectNeeds(target.fileObject, target.parentField, [...path, 'fileObject']))
    if (flow.existing === 'replace' || flow.review?.resubmission === 'replace') {
      needs.push(...removalNeeds(target.fileObject, config))
    }
    if (target.folder !== undefined) {
      const p = prefixOf(target.fileObject)
      needs.push(
        {
          object: target.fileObject,
          field: `${p}Parent_Folder_Id__c`,
          access: 'update',
          path: [...path, 'folder'],
        },
        {
          object: target.fileObject,
          field: `${p}Content_Type__c`,
          access: 'create',
          path: [...path, 'folder'],
        },
        { object: target.fileObject, field: `${p}File_Name__c`, access: 'create', path: [...path, 'folder'] },
      )
    }
    const latest = { object: target.fileObject, field: `${prefixOf(target.fileObject)}Is_Latest_Version__c` }
    if (flow.review && flow.review.resubmission === 'version') {
      needs.push({ ...latest, access: 'update', types: BOOLEAN, path: [...at, 'review', 'resubmission'] })
    }
    if (flow.existing === 'version') {
      needs.push({ ...latest, access: 'update', types: BOOLEAN, path: [...at, 'existing'] })
    }
  }
  const reviewObject =
    flow.review?.object ??
    (new Set(flow.match.map((r) => r.object)).size === 1 ? flow.match[0]?.object : undefined)
  if (flow.review && reviewObject) {
    needs.push(...fieldMapNeeds(reviewObject, flow.review.onRejected, [...at, 'review', 'onRejected']))
    needs.push(...fieldMapNeeds(reviewObject, flow.review.onResubmitted, [...at, 'review', 'onResubmitted']))
  }
  return needs
}

function outboundNeeds(flow: OutboundFlow, i: number, config: NeedsConfig): OrgNeed[] {
  const at: KeyPath = ['flows', i]
  const { object, fileObject, parentField } = flow.source
  const needs: OrgNeed[] = [
    { object, field: null, access: 'read', path: [...at, 'source', 'object'] },
    ...fileObjectNeeds(fileObject, parentField, [...at, 'source', 'fileObject']),
  ]
  if (flow.archive.removeFromSDrive) needs.push(...removalNeeds(fileObject, config))
  for (const key of ['onSuccess', 'onFailure', 'onNothingToExport'] as const) {
    needs.push(...fieldMapNeeds(object, flow.writeBack?.[key], [...at, 'writeBack', key]))
  }
  return needs
}

function statusNeeds(flow: StatusFlow, i: number): OrgNeed[] {
  const at: KeyPath = ['flows', i]
  const needs: OrgNeed[] = [{ object: flow.object, field: null, access: 'read', path: [...at, 'object'] }]
  for (const [field, spec] of Object.entries(flow.fields)) {
    needs.push({
      object: flow.object,
      field,
      access: 'update',
      types: STATUS_TYPES[spec.type],
      path: [...at, 'fields', field],
    })
  }
  if (flow.key.by === 'externalId' && flow.key.field) {
    needs.push({ object: flow.object, field: flow.key.field, access: 'read', path: [...at, 'key', 'field'] })
  }
  if (flow.document) {
    const { fileObject, parentField } = flow.document
    needs.push(...fileObjectNeeds(fileObject, parentField, [...at, 'document', 'fileObject']))
  }
  return needs
}

/** Every need of every flow, one per object, field, access and key path. */
export function orgNeeds(config: NeedsConfig): OrgNeed[] {
  const all = config.flows.flatMap((flow, i) =>
    flow.kind === 'inbound'
      ? inboundNeeds(flow, i, config)
      : flow.kind === 'outbound'
        ? outboundNeeds(flow, i, config)
        : statusNeeds(flow, i),
  )
  const seen = new Map<string, OrgNeed>()
  for (const need of all) seen.set(needKey(need), need)
  return [...seen.values()]
}

const needKey = (n: OrgNeed) =>
  `${n.object}\u0000${n.field ?? ''}\u0000${n.access}\u0000${formatKeyPath(n.path)}`.toLowerCase()

export function neededObjectNames(needs: readonly OrgNeed[]): string[] {
  return [...new Set(needs.map((n) => n.object))]
}

/** Described objects by name; null: the org has no such object (or the user cannot see it). */
export type Describes = ReadonlyMap<string, ObjectDescription | null>

function judgeObject(need: OrgNeed, d: ObjectDescription): [OrgCheck['verdict'], string] {
  if (need.access === 'read') return ['ok', `${d.name} exists`]
  const allowed =
    need.access === 'delete'
      ? d.access?.deletable
      : need.access === 'create'
        ? d.access?.createable
        : d.access?.updateable
  if (allowed === true) return ['ok', `the run-as user may ${need.access} ${d.name} records`]
  if (allowed === false)
    return ['wrong', `the run-as user may not ${need.access} ${d.name} records (object permission)`]
  return ['unknown', `describe of ${d.name} does not say whether the user may ${need.access} its records`]
}

function judgeField(need: OrgNeed, d: ObjectDescription, field: string): [OrgCheck['verdict'], string] {
  const details = d.fieldDetails?.find((f) => f.name.toLowerCase() === field.toLowerCase())
  const listed = details !== undefined || d.fields.some((f) => f.toLowerCase() === field.toLowerCase())
  if (!listed) return ['wrong', `${field} is not a field of ${d.name} (or the run-as user cannot read it)`]
  if (need.types && details?.type && !need.types.includes(details.type.toLowerCase())) {
    return [
      'wrong',
      `${d.name}.${details.name} is of type ${details.type}; needed: ${need.types.join(' or ')}`,
    ]
  }
  const typeNote = details?.type ? ` (${details.type})` : ''
  if (need.access === 'read') return ['ok', `${d.name}.${details?.name ?? field}${typeNote} is readable`]
  const allowed = need.access === 'create' ? details?.createable : details?.updateable
  if (allowed === true)
    return [
      'ok',
      `${d.name}.${details?.name ?? field}${typeNote} is ${need.access === 'create' ? 'createable' : 'updateable'} by the run-as user`,
    ]
  if (allowed === false) {
    return [
      'wrong',
      `the run-as user cannot ${need.access === 'create' ? 'set' : 'edit'} ${d.name}.${details?.name ?? field} (field-level security or a read-only field)`,
    ]
  }
  return [
    'unknown',
    `describe does not say whether ${d.name}.${field} is ${need.access === 'create' ? 'createable' : 'updateable'}`,
  ]
}

/** One check per need; a missing object is reported once per place that names it, not once per field. */
export function judgeNeeds(needs: readonly OrgNeed[], describes: Describes): OrgCheck[] {
  const checks: OrgCheck[] = []
  const missingSaid = new Set<string>()
  for (const need of needs) {
    const path = formatKeyPath(need.path)
    const what = need.field === null ? need.object : `${need.object}.${need.field}`
    const id = `schema:${what}:${need.access}:${path}`
    const title = `${what} (${need.access})`
    const d = describes.get(need.object)
    if (d === undefined) continue
    if (d === null) {
      const key = `${need.object}\u0000${path}`
      if (missingSaid.has(key)) continue
      missingSaid.add(key)
      checks.push(
        check(
          `schema:${need.object}:exists:${path}`,
          `${need.object} exists`,
          'wrong',
          `object "${need.object}" does not exist in the org (or is not visible to the run-as user)`,
          path,
        ),
      )
      continue
    }
    const [verdict, evidence] = need.field === null ? judgeObject(need, d) : judgeField(need, d, need.field)
    checks.push(check(id, title, verdict, evidence, path))
  }
  return checks
}
