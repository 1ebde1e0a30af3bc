/**
 * The fields an inbound file sets on its S-Drive file record
 * (`target.fields`): each value template rendered from what the file's name
 * and folder said (the match rule's named groups and {segments}) and the run,
 * then checked and converted by its declared type. Pure.
 */
import type { TargetConfig } from '../config/schema.js'
import { convertFieldValue, type FieldValueSpec } from './field-values.js'
import { renderTemplate, templatePlaceholders } from './templates.js'

export type FileFieldsConfig = NonNullable<TargetConfig['fields']>
export type FileFieldValue = string | number | boolean | null

/** The placeholders every file field template may use, besides the match rules' groups. */
export const STANDARD_FILE_FIELD_PLACEHOLDERS = [
  'flow',
  'file.name',
  'file.stem',
  'file.ext',
  'record.id',
  'date',
] as const

export interface FileFieldContext {
  flow: string
  fileName: string
  recordId: string
  /** ISO date of the run's day (YYYY-MM-DD). */
  date: string
  /** Named groups and {segments} the matching rule captured, and the file's index columns as index.<Column>. */
  captures: Readonly<Record<string, string>>
}

export type FileFieldsOutcome =
  | { ok: true; values: Record<string, FileFieldValue> }
  | { ok: false; code: 'FIELD_VALUE_INVALID'; message: string }

function specOf(field: FileFieldsConfig[string]): { template: string } & FieldValueSpec {
  if (typeof field === 'string') return { template: field, type: 'string' }
  return {
    template: field.value,
    type: field.type ?? 'string',
    values: field.values,
    maxLength: field.maxLength,
  }
}

function splitName(name: string): { stem: string; ext: string } {
  const dot = name.lastIndexOf('.')
  return dot > 0 ? { stem: name.slice(0, dot), ext: name.slice(dot) } : { stem: name, ext: '' }
}

/** Renders and types every configured field; the first value that is not its type fails the file. */
export function fileFieldValues(fields: FileFieldsConfig, context: FileFieldContext): FileFieldsOutcome {
  const { stem, ext } = splitName(context.fileName)
  const vars: Record<string, string> = {
    ...context.captures,
    flow: context.flow,
    'file.name': context.fileName,
    'file.stem': stem,
    'file.ext': ext,
    'record.id': context.recordId,
    date: context.date,
  }
  const values: Record<string, FileFieldValue> = {}
  for (const [name, field] of Object.entries(fields)) {
    const spec = specOf(field)
    const missing = templatePlaceholders(spec.template).find((p) => vars[p] === undefined)
    if (missing?.startsWith('index.')) {
      return invalid(
        `field ${name}: ${context.fileName} has no {${missing}} (no row in its batch's index, or no such column)`,
      )
    }
    if (missing !== undefined) {
      return invalid(`field ${name}: the rule that matched ${context.fileName} has no {${missing}}`)
    }
    const text = renderTemplate(spec.template, vars)
    // An empty text clears the field, whatever its type (Salesforce stores "" as null).
    const converted = convertFieldValue(text === '' ? null : text, spec)
    if (!converted.ok) return invalid(`field ${name}: ${JSON.stringify(text)} ${converted.reason}`)
    values[name] = converted.value
  }
  return { ok: true, values }
}

function invalid(message: string): FileFieldsOutcome {
  return { ok: false, code: 'FIELD_VALUE_INVALID', message }
}
