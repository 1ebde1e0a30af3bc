/**
 * Typed field values for Salesforce writes: text (or a parsed JSON/XML
 * value) checked and converted by a declared type — what a status file's
 * row may set on a record, and what an inbound file sets on its S-Drive
 * file record (`target.fields`). Pure.
 */
import type { StatusField } from '../config/schema.js'

export type CellValue = string | number | boolean | null

/** The type part of a field declaration. */
export type FieldValueSpec = Pick<StatusField, 'type' | 'values' | 'maxLength'>

export type Converted = { ok: true; value: string | number | boolean | null } | { ok: false; reason: string }

const DECIMAL = /^[+-]?(?:\d+(?:\.\d+)?|\.\d+)$/
const INTEGER = /^[+-]?\d+$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/
const BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ['true', true],
  ['false', false],
  ['1', true],
  ['0', false],
  ['yes', true],
  ['no', false],
])
/** Salesforce stores dates from 1700-01-01 to 4000-12-31. */
const MIN_YEAR = 1700
const MAX_YEAR = 4000

export function convertFieldValue(value: CellValue, field: FieldValueSpec): Converted {
  if (value === null) return { ok: true, value: null }
  const fail = (reason: string): Converted => ({ ok: false, reason })
  switch (field.type) {
    case 'string': {
      const text = String(value)
      if (field.maxLength !== undefined && text.length > field.maxLength) {
        return fail(`is ${text.length} characters long, more than the ${field.maxLength} allowed`)
      }
      return { ok: true, value: text }
    }
    case 'number': {
      if (typeof value === 'number') return { ok: true, value }
      const text = String(value).trim()
      if (typeof value === 'string' && DECIMAL.test(text)) return { ok: true, value: Number(text) }
      return fail('is not a number (digits, an optional "." for decimals, no thousands separators)')
    }
    case 'integer': {
      if (typeof value === 'number') {
        return Number.isSafeInteger(value) ? { ok: true, value } : fail('is not a whole number')
      }
      const text = String(value).trim()
      if (typeof value === 'string' && INTEGER.test(text) && Number.isSafeInteger(Number(text))) {
        return { ok: true, value: Number(text) }
      }
      return fail('is not a whole number')
    }
    case 'boolean': {
      if (typeof value === 'boolean') return { ok: true, value }
      const parsed = BOOLEANS.get(String(value).trim().toLowerCase())
      return parsed === undefined
        ? fail('is not a boolean (true/false, 1/0, yes/no)')
        : { ok: true, value: parsed }
    }
    case 'date': {
      const match = typeof value === 'string' ? DATE.exec(value.trim()) : null
      if (match === null) return fail('is not a date (YYYY-MM-DD)')
      const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
      if (!isCalendarDate(year, month, day)) return fail('is not a valid calendar date')
      if (year < MIN_YEAR || year > MAX_YEAR) return fail(`is outside the years ${MIN_YEAR}–${MAX_YEAR}`)
      return { ok: true, value: match[0] }
    }
    case 'datetime': {
      const instant = typeof value === 'string' ? parseDateTime(value.trim()) : null
      if (instant === null) {
        return fail('is not an ISO 8601 date-time with a time zone (e.g. 2024-05-01T14:30:00Z or +02:00)')
      }
      if (typeof instant === 'string') return fail(instant)
      return { ok: true, value: instant.toISOString() }
    }
    case 'picklist': {
      const text = String(value).trim()
      const values = field.values ?? []
      if (values.includes(text)) return { ok: true, value: text }
      const shown = values.slice(0, 10).join(', ') + (values.length > 10 ? ', …' : '')
      return fail(`is not one of the allowed values (${shown})`)
    }
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const

function isCalendarDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  return day <= (month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number))
}

/** A Date, null when the text is no ISO 8601 date-time with a zone, or why its parts are out of range. */
function parseDateTime(text: string): Date | string | null {
  const match = DATETIME.exec(text)
  if (match === null) return null
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(match[i] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  if (!isCalendarDate(year, month, day)) return 'is not a valid calendar date'
  if (hour > 23 || minute > 59 || second > 59) return 'is not a valid time of day'
  if (year < MIN_YEAR || year > MAX_YEAR) return `is outside the years ${MIN_YEAR}–${MAX_YEAR}`
  const millis = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3))
  let offsetMinutes = 0
  if (match[8] === undefined) {
    const hours = Number(match[10])
    const minutes = Number(match[11] ?? 0)
    if (hours > 23 || minutes > 59) return 'has an invalid time zone offset'
    offsetMinutes = (match[9] === '-' ? -1 : 1) * (hours * 60 + minutes)
  }
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000)
}
