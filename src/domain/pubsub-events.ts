/**
 * What a Pub/Sub event asks for (pure): the export request a Platform Event
 * or a change event turns into, or why it asks for none. Change events name
 * their changed fields as bitmaps over the Avro schema's field order
 * (ChangeEventHeader.changedFields: "0x…" for top-level fields, "N-0x…" for
 * the fields of compound field N), decoded here.
 */
import type { PubSubTrigger } from '../config/trigger-pubsub-schema.js'

export interface AvroRecordSchema {
  type: 'record'
  name: string
  fields: { name: string; type: unknown }[]
}

export interface EventRequest {
  recordIds?: string[]
  fileIds?: string[]
  metadata?: Record<string, string>
}

export type EventDecision = { kind: 'export'; request: EventRequest } | { kind: 'skip'; reason: string }

/** Which field positions a hex bitmap sets (bit 0 is the lowest bit of the last hex digit). */
function bitsOf(hex: string): number[] {
  const digits = hex.replace(/^0x/i, '')
  const bits: number[] = []
  for (let d = 0; d < digits.length; d++) {
    const nibble = Number.parseInt(digits[digits.length - 1 - d] as string, 16)
    for (let b = 0; b < 4; b++) if (nibble & (1 << b)) bits.push(d * 4 + b)
  }
  return bits
}

/** The record schema a field holds (directly or in a union with null), if any. */
function recordTypeOf(type: unknown): AvroRecordSchema | null {
  const candidates = Array.isArray(type) ? type : [type]
  for (const t of candidates) {
    if (t && typeof t === 'object' && (t as { type?: unknown }).type === 'record')
      return t as AvroRecordSchema
  }
  return null
}

/** Field names of ChangeEventHeader.changedFields bitmaps; a name that is not a bitmap is kept as is. */
export function decodeChangedFields(bitmaps: readonly string[], schema: AvroRecordSchema): string[] {
  const names: string[] = []
  for (const entry of bitmaps) {
    const nested = /^(\d+)-(0x[0-9A-Fa-f]+)$/.exec(entry)
    if (nested) {
      const parent = schema.fields[Number(nested[1])]
      const inner = parent ? recordTypeOf(parent.type) : null
      if (!parent || !inner) continue
      for (const bit of bitsOf(nested[2] as string)) {
        const child = inner.fields[bit]
        if (child) names.push(`${parent.name}.${child.name}`)
      }
    } else if (/^0x[0-9A-Fa-f]+$/.test(entry)) {
      for (const bit of bitsOf(entry)) {
        const field = schema.fields[bit]
        if (field) names.push(field.name)
      }
    } else {
      names.push(entry)
    }
  }
  return names
}

/** The inverse, for the sandbox: one top-level bitmap naming these fields. */
export function encodeChangedFields(names: readonly string[], schema: AvroRecordSchema): string[] {
  let bitmap = 0n
  for (const name of names) {
    const index = schema.fields.findIndex((f) => f.name === name)
    if (index >= 0) bitmap |= 1n << BigInt(index)
  }
  return bitmap === 0n ? [] : [`0x${bitmap.toString(16).toUpperCase()}`]
}

const text = (value: unknown): string | undefined =>
  value === null || value === undefined
    ? undefined
    : typeof value === 'object'
      ? JSON.stringify(value)
      : String(value)

function metadataOf(
  trigger: PubSubTrigger,
  fields: Record<string, unknown>,
): Record<string, string> | undefined {
  const entries = (trigger.metadataFields ?? []).flatMap((name) => {
    const value = text(fields[name])
    return value === undefined ? [] : [[name, value] as const]
  })
  return entries.length > 0 ? Object.fromEntries(entries) : undefined
}

function platformEventRequest(trigger: PubSubTrigger, fields: Record<string, unknown>): EventDecision {
  const recordId = trigger.recordIdField ? text(fields[trigger.recordIdField]) : undefined
  const fileId = trigger.fileIdField ? text(fields[trigger.fileIdField]) : undefined
  if (!recordId && !fileId) {
    return { kind: 'skip', reason: `the event has no ${trigger.recordIdField ?? trigger.fileIdField}` }
  }
  const metadata = metadataOf(trigger, fields)
  return {
    kind: 'export',
    request: {
      ...(recordId ? { recordIds: [recordId] } : {}),
      ...(fileId ? { fileIds: [fileId] } : {}),
      ...(metadata ? { metadata } : {}),
    },
  }
}

interface ChangeHeader {
  changeType?: string
  recordIds?: string[]
  changedFields?: string[]
}

function changeEventRequest(
  trigger: PubSubTrigger,
  fields: Record<string, unknown>,
  schema: AvroRecordSchema,
): EventDecision {
  const header = (fields.ChangeEventHeader ?? {}) as ChangeHeader
  const changeType = header.changeType ?? ''
  if (!['CREATE', 'UPDATE', 'GAP_CREATE', 'GAP_UPDATE'].includes(changeType)) {
    return { kind: 'skip', reason: `a ${changeType || 'untyped'} change` }
  }
  const changed = new Set(decodeChangedFields(header.changedFields ?? [], schema))
  for (const condition of trigger.changedFields ?? []) {
    // A CREATE sets every field it carries: the condition is on the value only.
    if (changeType.endsWith('UPDATE') && !changed.has(condition.field)) {
      return { kind: 'skip', reason: `${condition.field} did not change` }
    }
    if (condition.equals !== undefined && fields[condition.field] !== condition.equals) {
      return { kind: 'skip', reason: `${condition.field} is not ${JSON.stringify(condition.equals)}` }
    }
  }
  const recordIds = (header.recordIds ?? []).filter((id) => typeof id === 'string' && id.length > 0)
  if (recordIds.length === 0) return { kind: 'skip', reason: 'the change names no record' }
  const metadata = metadataOf(trigger, fields)
  return { kind: 'export', request: { recordIds, ...(metadata ? { metadata } : {}) } }
}

/** The export one event asks for, from its decoded fields and the schema they were written with. */
export function decideEvent(
  trigger: PubSubTrigger,
  fields: Record<string, unknown>,
  schema: AvroRecordSchema,
): EventDecision {
  return trigger.topic.startsWith('/data/')
    ? changeEventRequest(trigger, fields, schema)
    : platformEventRequest(trigger, fields)
}
