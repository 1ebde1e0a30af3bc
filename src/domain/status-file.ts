/**
 * Status files: an ERP drops CSV, JSON or XML files on FTP, one row per
 * Salesforce record, carrying field values to set and optionally the name
 * of a returned document to attach. This module is the pure part: bytes in,
 * rows out; rows checked against the flow's configuration; the error report
 * out. The engine does the I/O and the Salesforce calls.
 *
 * Two levels of failure. A file that cannot be read as a whole (wrong
 * encoding, broken syntax, ragged CSV, nested JSON/XML) is refused with one
 * code, and nothing of it is applied. A file that reads is checked row by
 * row: a bad row is rejected with a RowCode and the others go ahead.
 *
 * "Unchanged" versus null. A missing column/key, an empty cell or an empty
 * element leaves the field as it is in Salesforce; an explicit null (JSON
 * null, XML xsi:nil, the CSV text `#N/A` as in Data Loader) clears it.
 */

import { parse as parseCsv } from 'csv-parse/sync'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import type { StatusField, StatusFlow, StatusFormat } from '../config/schema.js'
import { isCorrelationId } from './correlation.js'
import { csvLine } from './csv-cells.js'
import { BridgeError } from './errors.js'
import { type CellValue, convertFieldValue } from './field-values.js'
import { id15, looksLikeRecordId } from './record-ids.js'
import { decodeXmlEntities } from './xml-entities.js'

export type { CellValue }

export interface RawRow {
  /** 1-based data row number; in CSV the header is row 0. */
  index: number
  /** CSV: the source line where the row starts; else null. */
  line: number | null
  /** Column → value; a column that is absent leaves its field unchanged. */
  values: Record<string, CellValue>
}

export type ParsedStatusFile =
  | {
      ok: true
      rows: RawRow[]
      /** The CSV header, or the union of keys/columns seen, in first-seen order. */
      columns: string[]
    }
  | { ok: false; code: 'STATUS_FILE_ENCODING' | 'STATUS_FILE_UNPARSEABLE'; message: string }

type ParseFailure = Extract<ParsedStatusFile, { ok: false }>

/** The CSV text Salesforce Data Loader reads as "set this field to null". */
const CSV_NULL = '#N/A'

/**
 * What a status file may hold beyond its byte limit (format.maxBytes). Each
 * bound is far above what a status file needs (a root, rows, columns: three
 * levels; a few dozen columns) and each keeps parsing linear in the file's
 * size: without them a deep document overflows the parser (it threw a plain
 * Error, which ended as INTERNAL), a huge cell or an unclosed quote holds
 * the whole file in one buffer, and thousands of columns multiply the work
 * done per row. Beyond any of them the file is STATUS_FILE_UNPARSEABLE.
 */
export const STATUS_FILE_LIMITS = {
  /** Nesting of JSON arrays/objects or XML elements, the root counting as 1. */
  maxDepth: 32,
  /** Distinct columns in a file: CSV header cells, JSON keys, XML attributes and column elements. */
  maxColumns: 1000,
  /** Characters in one cell: Salesforce's largest text field (Long Text Area) holds 131,072. */
  maxCellChars: 131_072,
  /** Bytes in one CSV record (all its cells), so an unclosed quote stops early. */
  maxCsvRecordBytes: 1_048_576,
} as const

export function parseStatusFile(bytes: Uint8Array, format: StatusFormat): ParsedStatusFile {
  const decoded = decode(bytes, format.encoding)
  if (typeof decoded !== 'string') return decoded
  switch (format.type) {
    case 'csv':
      return parseCsvText(decoded, format.delimiter)
    case 'json':
      return parseJsonText(decoded, format.recordsPath)
    case 'xml':
      return parseXmlText(decoded, format.recordsPath)
  }
}

// ---------------------------------------------------------------- encoding

function encodingError(message: string): ParseFailure {
  return { ok: false, code: 'STATUS_FILE_ENCODING', message }
}

function unparseable(message: string): ParseFailure {
  return { ok: false, code: 'STATUS_FILE_UNPARSEABLE', message }
}

function hex(byte: number | undefined): string {
  return `0x${(byte ?? 0).toString(16).toUpperCase().padStart(2, '0')}`
}

/** "byte 57 (line 3)": where an admin can look with a hex editor or a text editor. */
function bytePosition(bytes: Uint8Array, offset: number): string {
  let line = 1
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++
  return `byte offset ${offset} (line ${line})`
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((byte, i) => bytes[i] === byte)
}

const UTF8_BOM = [0xef, 0xbb, 0xbf]
const UTF16LE_BOM = [0xff, 0xfe]
const UTF16BE_BOM = [0xfe, 0xff]

function decode(bytes: Uint8Array, encoding: StatusFormat['encoding']): string | ParseFailure {
  switch (encoding) {
    case 'utf8':
      return decodeUtf8(bytes)
    case 'utf16le':
      return decodeUtf16le(bytes)
    case 'latin1':
      return decodeWindows1252(bytes)
  }
}

/**
 * 0x80–0x9F in windows-1252, the superset of ISO-8859-1 that Windows ERPs
 * write when they say "latin1" (€, smart quotes, dashes); the WHATWG
 * Encoding standard decodes the label the same way. Done by hand because
 * Node's TextDecoder('latin1') gives ISO-8859-1 in some releases and
 * windows-1252 in others. Every byte has a character: this cannot fail.
 */
const WINDOWS_1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
  0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
  0x153, 0x9d, 0x17e, 0x178,
] as const

function decodeWindows1252(bytes: Uint8Array): string {
  const chunk = 8192
  const parts: string[] = []
  for (let start = 0; start < bytes.length; start += chunk) {
    const codes = Array.from(bytes.subarray(start, start + chunk), (byte) =>
      byte >= 0x80 && byte <= 0x9f ? (WINDOWS_1252_HIGH[byte - 0x80] as number) : byte,
    )
    parts.push(String.fromCharCode(...codes))
  }
  return parts.join('')
}

function decodeUtf8(bytes: Uint8Array): string | ParseFailure {
  if (startsWith(bytes, UTF16LE_BOM) || startsWith(bytes, UTF16BE_BOM)) {
    return encodingError(
      'not valid utf8: the file starts with a UTF-16 byte order mark; set format.encoding to utf16le',
    )
  }
  const start = startsWith(bytes, UTF8_BOM) ? UTF8_BOM.length : 0
  const body = bytes.subarray(start)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body)
  } catch {
    const bad = start + firstInvalidUtf8(body)
    return encodingError(
      `not valid utf8: invalid byte ${hex(bytes[bad])} at ${bytePosition(bytes, bad)}; ` +
        'if the file comes from a Windows or legacy system, set format.encoding to latin1',
    )
  }
  const nul = body.indexOf(0)
  if (nul !== -1) {
    // Valid UTF-8, but no text file holds NUL: this is UTF-16 (or binary) labelled as UTF-8.
    return encodingError(
      `not valid utf8 text: NUL byte at ${bytePosition(bytes, start + nul)}; ` +
        'the file looks like UTF-16, set format.encoding to utf16le',
    )
  }
  return text
}

/**
 * The offset of the first byte that starts an ill-formed UTF-8 sequence
 * (WHATWG/Unicode rules: no overlongs, no surrogates, nothing above U+10FFFF).
 * Only called once TextDecoder has said there is one; the decoder does not say where.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0
  while (i < bytes.length) {
    const lead = bytes[i] as number
    if (lead < 0x80) {
      i++
      continue
    }
    let needed: number
    let lower = 0x80
    let upper = 0xbf
    if (lead >= 0xc2 && lead <= 0xdf) needed = 1
    else if (lead >= 0xe0 && lead <= 0xef) {
      needed = 2
      if (lead === 0xe0) lower = 0xa0
      if (lead === 0xed) upper = 0x9f
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      needed = 3
      if (lead === 0xf0) lower = 0x90
      if (lead === 0xf4) upper = 0x8f
    } else return i
    for (let k = 1; k <= needed; k++) {
      const next = bytes[i + k]
      if (next === undefined || next < lower || next > upper) return i
      lower = 0x80
      upper = 0xbf
    }
    i += needed + 1
  }
  return bytes.length
}

function decodeUtf16le(bytes: Uint8Array): string | ParseFailure {
  if (startsWith(bytes, UTF8_BOM)) {
    return encodingError(
      'not valid utf16le: the file starts with a UTF-8 byte order mark; set format.encoding to utf8',
    )
  }
  if (startsWith(bytes, UTF16BE_BOM)) {
    return encodingError('not valid utf16le: the file starts with a UTF-16 big-endian byte order mark')
  }
  if (bytes.length % 2 !== 0) {
    return encodingError(`not valid utf16le: the file has an odd number of bytes (${bytes.length})`)
  }
  const start = startsWith(bytes, UTF16LE_BOM) ? UTF16LE_BOM.length : 0
  let text: string
  try {
    text = new TextDecoder('utf-16le', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(start))
  } catch {
    const bad = start + 2 * firstUnpairedSurrogate(bytes.subarray(start))
    return encodingError(
      `not valid utf16le: unpaired surrogate ${hex(bytes[bad + 1])}${hex(bytes[bad]).slice(2)} at byte offset ${bad}`,
    )
  }
  const nul = text.indexOf('\u0000')
  if (nul !== -1) {
    return encodingError(`not valid utf16le text: NUL character at byte offset ${start + 2 * nul}`)
  }
  return text
}

/** Index (in code units) of the first lone surrogate. */
function firstUnpairedSurrogate(bytes: Uint8Array): number {
  const units = bytes.length / 2
  for (let i = 0; i < units; i++) {
    const unit = (bytes[2 * i] as number) | ((bytes[2 * i + 1] as number) << 8)
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = i + 1 < units ? (bytes[2 * i + 2] as number) | ((bytes[2 * i + 3] as number) << 8) : 0
      if (next < 0xdc00 || next > 0xdfff) return i
      i++
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return i
  }
  return units
}

// ---------------------------------------------------------------- CSV

interface CsvRecord {
  record: string[]
  /** Bytes read when the record ended: its end offset. */
  bytes: number
}

function isBlank(cells: readonly string[]): boolean {
  return cells.every((cell) => cell.trim() === '')
}

/** csv-parse's typings want a record back from on_record; any value is kept as the record. */
const keepEndOffset = ((record: string[], context: { bytes: number }): CsvRecord => ({
  record,
  bytes: context.bytes,
})) as unknown as (record: string[]) => string[]

function parseCsvText(text: string, delimiter: string): ParsedStatusFile {
  // Parse the UTF-8 bytes, not the string: the parser's offsets (info.bytes)
  // are then offsets into `bytes`, which gives true line numbers. The
  // parser's own line counter counts CR and LF inside quoted cells twice.
  const bytes = new TextEncoder().encode(text)
  let records: CsvRecord[]
  try {
    records = parseCsv(bytes, {
      delimiter,
      quote: '"',
      escape: '"',
      bom: false,
      // Only the end offset is kept: `info: true` keeps a dozen fields per record (≈3× the memory).
      on_record: keepEndOffset,
      skip_empty_lines: true,
      // Checked below, so the message can name the true line.
      relax_column_count: true,
      max_record_size: STATUS_FILE_LIMITS.maxCsvRecordBytes,
    }) as unknown as CsvRecord[]
  } catch (error) {
    return unparseable(csvErrorMessage(error))
  }

  const lines = lineCounter(bytes)
  let previousEnd = 0
  let header: string[] | null = null
  const rows: RawRow[] = []
  for (const { record, bytes: end } of records) {
    const line = lines.lineAt(previousEnd)
    previousEnd = end
    // A line of delimiters or spaces only (spreadsheets leave them at the end) is no row.
    if (isBlank(record)) continue
    if (header === null) {
      header = record.map((name) => name.trim())
      const problem =
        tooManyColumns(header.length, `CSV header (line ${line})`) ?? headerProblem(header, line)
      if (problem !== null) return unparseable(problem)
      continue
    }
    if (record.length !== header.length) {
      return unparseable(
        `CSV line ${line}: ${record.length} ${record.length === 1 ? 'column' : 'columns'}, ` +
          `but the header has ${header.length} (check the delimiter "${delimiter}" and the quoting)`,
      )
    }
    const long = record.findIndex((cell) => cell.length > STATUS_FILE_LIMITS.maxCellChars)
    if (long !== -1) return unparseable(cellTooLong(`CSV line ${line}, column ${header[long]}`, record[long]))
    const columns = header
    const values = Object.fromEntries(
      record.map((cell, i): [string, CellValue] => [
        columns[i] as string,
        cell.trim() === CSV_NULL ? null : cell,
      ]),
    )
    rows.push({ index: rows.length + 1, line, values })
  }
  if (header === null) return unparseable('CSV: the file is empty; a header row is required')
  return { ok: true, rows, columns: header }
}

function csvErrorMessage(error: unknown): string {
  const { code, lines, message } = error as { code?: string; lines?: number; message: string }
  if (code === 'CSV_MAX_RECORD_SIZE') {
    return (
      `CSV line ${lines}: a record longer than ${STATUS_FILE_LIMITS.maxCsvRecordBytes} bytes ` +
      '(an unclosed quote, or a value longer than a Salesforce field can hold)'
    )
  }
  return `CSV: ${clip(message, 300)}`
}

function tooManyColumns(count: number, where: string): string | null {
  return count > STATUS_FILE_LIMITS.maxColumns
    ? `${where}: ${count} columns, more than the ${STATUS_FILE_LIMITS.maxColumns} a status file may have`
    : null
}

function cellTooLong(where: string, cell: string | undefined): string {
  return (
    `${where}: a value of ${cell?.length ?? 0} characters, more than the ` +
    `${STATUS_FILE_LIMITS.maxCellChars} a Salesforce field can hold`
  )
}

function headerProblem(header: readonly string[], line: number): string | null {
  const empty = header.flatMap((name, i) => (name === '' ? [i + 1] : []))
  if (empty.length > 0) {
    return `CSV header (line ${line}): column ${empty.join(', ')} ${empty.length === 1 ? 'has' : 'have'} no name`
  }
  const seen = new Set<string>()
  const duplicates = new Set<string>()
  for (const name of header) {
    if (seen.has(name)) duplicates.add(name)
    seen.add(name)
  }
  if (duplicates.size > 0) {
    return `CSV header (line ${line}): duplicate column ${[...duplicates].map((name) => `"${clip(name)}"`).join(', ')}`
  }
  return null
}

/** Line numbers of byte offsets, asked in increasing order (CRLF, LF and lone CR each end a line). */
function lineCounter(bytes: Uint8Array): { lineAt(recordEnd: number): number } {
  let offset = 0
  let line = 1
  const step = () => {
    const byte = bytes[offset]
    if (byte === 0x0d || (byte === 0x0a && bytes[offset - 1] !== 0x0d)) line++
    offset++
  }
  return {
    /** The line where the record after `previousEnd` starts, skipping the empty lines before it. */
    lineAt(previousEnd: number): number {
      while (offset < previousEnd) step()
      while (offset < bytes.length && (bytes[offset] === 0x0d || bytes[offset] === 0x0a)) step()
      return line
    },
  }
}

// ---------------------------------------------------------------- JSON

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function parseJsonText(text: string, recordsPath: string): ParsedStatusFile {
  if (text.trim() === '') return unparseable('JSON: the file is empty')
  const tooDeep = jsonDepthExceeded(text, STATUS_FILE_LIMITS.maxDepth)
  if (tooDeep !== null) {
    return unparseable(
      `JSON: arrays and objects nested deeper than ${STATUS_FILE_LIMITS.maxDepth} levels` +
        `${positionOf(text, tooDeep)}; rows must be flat objects in one array`,
    )
  }
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (error) {
    return unparseable(`JSON: ${clip((error as Error).message, 200)}${jsonErrorPosition(error, text)}`)
  }
  const found = jsonRecords(document, recordsPath)
  if (typeof found === 'string') return unparseable(`JSON: ${found}`)

  const rows: RawRow[] = []
  const columns = new Set<string>()
  for (const [i, item] of found.entries()) {
    const index = i + 1
    if (!isPlainObject(item)) {
      return unparseable(`JSON row ${index}: expected an object, found ${jsonKind(item)}`)
    }
    for (const [key, value] of Object.entries(item)) {
      if (typeof value === 'string' && value.length > STATUS_FILE_LIMITS.maxCellChars) {
        return unparseable(cellTooLong(`JSON row ${index}, key "${clip(key)}"`, value))
      }
      if (typeof value === 'object' && value !== null) {
        return unparseable(
          `JSON row ${index}, key "${clip(key)}": ${jsonKind(value)} is not allowed; rows must be flat (text, numbers, booleans, null)`,
        )
      }
      columns.add(key)
    }
    const problem = tooManyColumns(columns.size, `JSON row ${index}`)
    if (problem !== null) return unparseable(`${problem} (keys of all rows together)`)
    rows.push({ index, line: null, values: { ...(item as Record<string, CellValue>) } })
  }
  return { ok: true, rows, columns: [...columns] }
}

/**
 * The offset of the bracket that opens level `max + 1`, or null. One pass
 * over the text before JSON.parse, which takes many times longer on a deep
 * document than on a flat one of the same size.
 */
function jsonDepthExceeded(text: string, max: number): number | null {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (inString) {
      if (code === 0x5c) i++
      else if (code === 0x22) inString = false
    } else if (code === 0x22) inString = true
    else if (code === 0x5b || code === 0x7b) {
      depth++
      if (depth > max) return i
    } else if (code === 0x5d || code === 0x7d) depth--
  }
  return null
}

/** V8 gives "at position N" for most syntax errors; a line and column are what an editor shows. */
function jsonErrorPosition(error: unknown, text: string): string {
  const match = /at position (\d+)/.exec((error as Error).message)
  return match === null ? '' : positionOf(text, Number(match[1]))
}

function positionOf(text: string, position: number): string {
  const before = text.slice(0, position)
  const line = before.split('\n').length
  const column = position - before.lastIndexOf('\n')
  return ` (line ${line}, column ${column})`
}

function jsonKind(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** The array of rows, or what is wrong. */
function jsonRecords(document: unknown, recordsPath: string): unknown[] | string {
  if (recordsPath === '') {
    if (Array.isArray(document)) return document
    if (isPlainObject(document)) {
      const keys = Object.keys(document)
      const only = keys.length === 1 ? document[keys[0] as string] : undefined
      if (Array.isArray(only)) return only
    }
    return (
      `expected an array of rows, or an object with a single property holding that array; found ${jsonKind(document)}` +
      (isPlainObject(document)
        ? ` with ${Object.keys(document).length} properties (set format.recordsPath)`
        : '')
    )
  }
  let current: unknown = document
  const walked: string[] = []
  for (const segment of recordsPath.split('.')) {
    walked.push(segment)
    if (!isPlainObject(current) || !Object.hasOwn(current, segment)) {
      return `recordsPath "${recordsPath}": no "${walked.join('.')}" in the document`
    }
    current = current[segment]
  }
  if (!Array.isArray(current)) {
    return `recordsPath "${recordsPath}": expected an array of rows, found ${jsonKind(current)}`
  }
  return current
}

// ---------------------------------------------------------------- XML

/**
 * Entities: as in outbound-message.ts, the parser expands nothing and any
 * DOCTYPE/ENTITY is refused up front, so billion-laughs and external
 * entities have nothing to stand on; the predefined entities and numeric
 * references are decoded here in one pass.
 */
const xmlParser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Values stay text: "000123" and "1e5" are data, typed later by the field's type.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: '#cdata',
  // The parser throws a plain Error beyond this; parseXmlText turns it into STATUS_FILE_UNPARSEABLE.
  // It counts the elements above the one being opened, so the root is level 0.
  maxNestedTags: STATUS_FILE_LIMITS.maxDepth - 1,
})

interface XmlElement {
  /** Name without its namespace prefix: ERPs differ in prefixes, not in names. */
  name: string
  /** Qualified name as written → decoded value. */
  attributes: ReadonlyMap<string, string>
  children: XmlElement[]
  /** Decoded text and literal CDATA of this element only. */
  text: string
}

type RawXmlNode = Record<string, unknown>

/** Thrown inside the XML walk and turned into STATUS_FILE_UNPARSEABLE at its edge. */
class XmlProblem extends Error {}
const xmlProblem = (message: string) => new XmlProblem(message)

function parseXmlText(text: string, recordsPath: string): ParsedStatusFile {
  if (/<!\s*(?:DOCTYPE|ENTITY)/i.test(text)) {
    return unparseable('XML: DTDs are not accepted (the file has a DOCTYPE or ENTITY declaration)')
  }
  const crowded = startTagOverAttributes(text, STATUS_FILE_LIMITS.maxColumns)
  if (crowded !== null) {
    return unparseable(
      `XML: an element with more than ${STATUS_FILE_LIMITS.maxColumns} attributes${positionOf(text, crowded)}; ` +
        `a status file has at most ${STATUS_FILE_LIMITS.maxColumns} columns`,
    )
  }
  const validation = XMLValidator.validate(text)
  if (validation !== true) {
    const { msg, line, col } = validation.err
    return unparseable(`XML line ${line}${col === undefined ? '' : `, column ${col}`}: ${msg}`)
  }
  try {
    const roots = toElements(parseXmlTree(text))
    if (roots.length !== 1) throw new XmlProblem(`expected one root element, found ${roots.length}`)
    const rowElements = xmlRows(roots[0] as XmlElement, recordsPath)
    const columns = new Set<string>()
    const rows = rowElements.map((element, i): RawRow => {
      const values = xmlRowValues(element, i + 1)
      for (const column of Object.keys(values)) columns.add(column)
      const problem = tooManyColumns(columns.size, `row ${i + 1} (<${element.name}>)`)
      if (problem !== null) throw new XmlProblem(`${problem} (attributes and elements of all rows together)`)
      return { index: i + 1, line: null, values }
    })
    return { ok: true, rows, columns: [...columns] }
  } catch (error) {
    if (error instanceof XmlProblem) return unparseable(`XML: ${error.message}`)
    throw error
  }
}

/**
 * The offset of the first start tag with more than `max` attributes, or
 * null. One pass before the validator, whose cost per attribute grows with
 * the number of attributes on the element (2 MB of them on one element:
 * seconds). Comments, CDATA and processing instructions are skipped whole;
 * quoted values may hold "=" and ">". Anything else malformed is left to
 * the validator.
 */
function startTagOverAttributes(text: string, max: number): number | null {
  const skipTo = (from: number, open: string, close: string): number | null => {
    if (!text.startsWith(open, from)) return null
    const end = text.indexOf(close, from + open.length)
    return end === -1 ? text.length : end + close.length
  }
  let i = text.indexOf('<')
  while (i !== -1 && i < text.length) {
    const skipped = skipTo(i, '<!--', '-->') ?? skipTo(i, '<![CDATA[', ']]>') ?? skipTo(i, '<?', '?>')
    if (skipped !== null) {
      i = text.indexOf('<', skipped)
      continue
    }
    let attributes = 0
    let quote = 0
    let j = i + 1
    for (; j < text.length; j++) {
      const code = text.charCodeAt(j)
      if (quote !== 0) {
        if (code === quote) quote = 0
      } else if (code === 0x22 || code === 0x27) quote = code
      else if (code === 0x3d && ++attributes > max) return i
      else if (code === 0x3e || code === 0x3c) break
    }
    i = text.indexOf('<', j)
  }
  return null
}

/** fast-xml-parser's tree; what it throws is about the input (validated already, so: too deep). */
function parseXmlTree(text: string): unknown {
  try {
    return xmlParser.parse(text)
  } catch (error) {
    const message = (error as Error).message
    throw new XmlProblem(
      /nested/i.test(message)
        ? `elements nested deeper than ${STATUS_FILE_LIMITS.maxDepth} levels; a status file needs three (root, row, column)`
        : clip(message, 200),
    )
  }
}

function localName(qualified: string): string {
  return qualified.slice(qualified.indexOf(':') + 1)
}

function toElements(nodes: unknown): XmlElement[] {
  const out: XmlElement[] = []
  if (!Array.isArray(nodes)) return out
  for (const node of nodes as RawXmlNode[]) {
    const name = Object.keys(node).find((key) => key !== ':@')
    if (name === undefined || name === '#text' || name === '#cdata') continue
    const attributes = new Map<string, string>()
    for (const [key, raw] of Object.entries((node[':@'] ?? {}) as Record<string, unknown>)) {
      const qualified = key.slice('@_'.length)
      attributes.set(
        qualified,
        decodeXmlEntities(String(raw), `<${name}> attribute ${qualified}`, xmlProblem),
      )
    }
    const content = node[name]
    const text = textOf(content, name)
    const long = [text, ...attributes.values()].find(
      (value) => value.length > STATUS_FILE_LIMITS.maxCellChars,
    )
    if (long !== undefined) throw new XmlProblem(cellTooLong(`<${name}>`, long))
    out.push({ name: localName(name), attributes, children: toElements(content), text })
  }
  return out
}

function textOf(content: unknown, where: string): string {
  if (!Array.isArray(content)) return ''
  let text = ''
  for (const child of content as RawXmlNode[]) {
    if (typeof child['#text'] === 'string')
      text += decodeXmlEntities(child['#text'], `<${where}>`, xmlProblem)
    else if (Array.isArray(child['#cdata'])) {
      for (const part of child['#cdata'] as RawXmlNode[]) {
        if (typeof part['#text'] === 'string') text += part['#text']
      }
    }
  }
  return text
}

/** The row elements `recordsPath` names; "" → the root's one repeated child. */
function xmlRows(root: XmlElement, recordsPath: string): XmlElement[] {
  if (recordsPath === '') {
    const counts = new Map<string, number>()
    for (const child of root.children) counts.set(child.name, (counts.get(child.name) ?? 0) + 1)
    const names = [...counts.keys()]
    if (names.length <= 1) return root.children
    const repeated = names.filter((name) => (counts.get(name) as number) > 1)
    if (repeated.length === 1) return root.children.filter((child) => child.name === repeated[0])
    throw new XmlProblem(
      `cannot tell the row element among <${root.name}>'s children (${clip(names.map((n) => `<${n}>`).join(', '), 300)}); ` +
        'set format.recordsPath, e.g. "statuses.status"',
    )
  }
  const segments = recordsPath.split('.')
  if (segments[0] !== root.name) {
    throw new XmlProblem(
      `recordsPath "${recordsPath}" starts at <${segments[0]}>, but the root element is <${root.name}>`,
    )
  }
  let parents: XmlElement[] = []
  let current = [root]
  for (const segment of segments.slice(1)) {
    parents = current
    current = parents.flatMap((parent) => parent.children.filter((child) => child.name === segment))
  }
  const strays = current.length === 0 ? parents.flatMap((parent) => parent.children) : []
  if (strays.length > 0) {
    // A typo in recordsPath would otherwise read as an empty file.
    const found = clip([...new Set(strays.map((child) => `<${child.name}>`))].join(', '), 300)
    throw new XmlProblem(`recordsPath "${recordsPath}": no such element (found ${found})`)
  }
  return current
}

function isNil(element: XmlElement): boolean {
  for (const [qualified, value] of element.attributes) {
    if (localName(qualified) === 'nil' && (value.trim() === 'true' || value.trim() === '1')) return true
  }
  return false
}

function xmlRowValues(element: XmlElement, index: number): Record<string, CellValue> {
  const where = `row ${index} (<${element.name}>)`
  const values = new Map<string, CellValue>()
  for (const [qualified, value] of element.attributes) {
    // Namespaced attributes (xmlns, xsi:type, …) describe the element, they are no data.
    if (qualified.includes(':') || qualified === 'xmlns') continue
    values.set(qualified, value)
  }
  for (const child of element.children) {
    if (child.children.length > 0) {
      throw new XmlProblem(`${where}: <${child.name}> has child elements; rows must be flat`)
    }
    const stray = [...child.attributes.keys()].find((name) => !name.includes(':') && name !== 'nil')
    if (stray !== undefined) {
      // Silently dropping it could lose data (a currency, a unit); the file must say it plainly.
      throw new XmlProblem(
        `${where}: <${child.name}> has attribute ${stray}; column elements carry text only`,
      )
    }
    if (values.has(child.name)) {
      const attribute = element.attributes.has(child.name)
      throw new XmlProblem(
        attribute
          ? `${where}: "${child.name}" is both an attribute and an element`
          : `${where}: <${child.name}> appears more than once`,
      )
    }
    values.set(child.name, isNil(child) ? null : child.text)
  }
  if (element.text.trim() !== '') {
    throw new XmlProblem(`${where}: text "${clip(element.text.trim())}" outside any column element`)
  }
  return Object.fromEntries(values)
}

// ---------------------------------------------------------------- rows

export interface RowSpec {
  keyColumn: string
  keyBy: 'id' | 'externalId' | 'correlationId'
  /** Field API name → how its column is read. */
  fields: Record<string, StatusField>
  documentColumn: string | null
  ignoreColumns: readonly string[]
}

/**
 * The row rules of a status flow. Throws CONFIG_INVALID where the
 * configuration contradicts itself (a picklist without values, a column both
 * read and ignored, the document column also the key or a field), so the
 * mistake shows at load time rather than as every row rejected.
 */
export function rowSpecOf(flow: StatusFlow): RowSpec {
  const keyColumn = flow.key.column
  const documentColumn = flow.document?.column ?? null
  const ignoreColumns = [...flow.ignoreColumns]
  const fields = { ...flow.fields }
  const where = `flow ${flow.name}`
  const ignored = new Set(ignoreColumns)
  const read: [string, string][] = [[keyColumn, 'the key column']]
  if (documentColumn !== null) read.push([documentColumn, 'the document column'])
  for (const [name, field] of Object.entries(fields)) {
    if (field.type === 'picklist' && (field.values === undefined || field.values.length === 0)) {
      throw new BridgeError('CONFIG_INVALID', `${where}: field ${name} is a picklist without values`)
    }
    const column = field.column ?? name
    if (column === documentColumn) {
      throw new BridgeError(
        'CONFIG_INVALID',
        `${where}: column "${column}" is both the document column and field ${name}'s column`,
      )
    }
    read.push([column, `field ${name}'s column`])
  }
  if (documentColumn !== null && documentColumn === keyColumn) {
    throw new BridgeError(
      'CONFIG_INVALID',
      `${where}: column "${keyColumn}" is both the key and the document column`,
    )
  }
  for (const [column, role] of read) {
    if (ignored.has(column)) {
      throw new BridgeError('CONFIG_INVALID', `${where}: column "${column}" is ${role} and in ignoreColumns`)
    }
  }
  return { keyColumn, keyBy: flow.key.by, fields, documentColumn, ignoreColumns }
}

export type RowCode =
  | 'MISSING_KEY'
  | 'INVALID_KEY'
  | 'DUPLICATE_KEY'
  | 'FIELD_NOT_ALLOWED'
  | 'INVALID_FIELD_VALUE'
  | 'INVALID_DOCUMENT_NAME'
  | 'NOTHING_TO_APPLY'

export type ValidatedRow =
  | {
      index: number
      ok: true
      key: string
      /** Field API name → value to set (null clears the field). */
      fields: Record<string, string | number | boolean | null>
      document: string | null
    }
  | { index: number; ok: false; key: string | null; code: RowCode; field: string | null; message: string }

type Rejection = Extract<ValidatedRow, { ok: false }>

const MAX_EXTERNAL_ID = 255
const MAX_FILE_NAME_BYTES = 255
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what we refuse
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/**
 * Checks each row and converts its values to what Salesforce takes. A row
 * is applied whole or not at all: one bad value rejects it.
 */
export function validateStatusRows(rows: readonly RawRow[], spec: RowSpec): ValidatedRow[] {
  const fieldColumns = new Map(
    Object.entries(spec.fields).map(([name, field]) => [name, field.column ?? name] as const),
  )
  const allowed = new Set<string>([spec.keyColumn, ...spec.ignoreColumns, ...fieldColumns.values()])
  if (spec.documentColumn !== null) allowed.add(spec.documentColumn)
  const firstRowOfKey = new Map<string, number>()

  return rows.map((row): ValidatedRow => {
    const where = rowLabel(row)
    const reject = (key: string | null, code: RowCode, field: string | null, message: string): Rejection => ({
      index: row.index,
      ok: false,
      key,
      code,
      field,
      message: `${where}${message}`,
    })

    const key = checkKey(row, spec)
    if (!key.ok) return reject(key.key, key.code, spec.keyColumn, key.message)
    const sameKey =
      spec.keyBy === 'id' ? id15(key.key) : spec.keyBy === 'externalId' ? key.key.toLowerCase() : key.key
    const first = firstRowOfKey.get(sameKey)
    if (first !== undefined) {
      return reject(
        key.key,
        'DUPLICATE_KEY',
        spec.keyColumn,
        `, column ${spec.keyColumn}: ${quote(key.key)} is also on row ${first}${spec.keyBy === 'externalId' ? ' (external ids are compared ignoring case)' : ''}; a record may appear once per file`,
      )
    }
    firstRowOfKey.set(sameKey, row.index)

    for (const column of Object.keys(row.values)) {
      if (!allowed.has(column) && !isUnchanged(row.values[column])) {
        return reject(
          key.key,
          'FIELD_NOT_ALLOWED',
          column,
          `, column ${column}: not a field this flow may set; nothing of the row was applied`,
        )
      }
    }

    const fields: Record<string, string | number | boolean | null> = {}
    for (const [name, field] of Object.entries(spec.fields)) {
      const column = fieldColumns.get(name) as string
      const value = cell(row, column)
      if (isUnchanged(value)) continue
      const converted = convertFieldValue(value as CellValue, field)
      if (!converted.ok) {
        const label = column === name ? `column ${column}` : `column ${column} (field ${name})`
        return reject(
          key.key,
          'INVALID_FIELD_VALUE',
          name,
          `, ${label}: ${quote(String(value))} ${converted.reason}`,
        )
      }
      fields[name] = converted.value
    }

    let document: string | null = null
    if (spec.documentColumn !== null) {
      const value = cell(row, spec.documentColumn)
      if (!isUnchanged(value) && value !== null) {
        const name = String(value).trim()
        const problem = fileNameProblem(name)
        if (problem !== null) {
          return reject(
            key.key,
            'INVALID_DOCUMENT_NAME',
            spec.documentColumn,
            `, column ${spec.documentColumn}: ${quote(name)} ${problem}`,
          )
        }
        document = name
      }
    }

    if (Object.keys(fields).length === 0 && document === null) {
      return reject(key.key, 'NOTHING_TO_APPLY', null, ': no field value and no document; nothing to apply')
    }
    return { index: row.index, ok: true, key: key.key, fields, document }
  })
}

function rowLabel(row: RawRow): string {
  return row.line === null ? `row ${row.index}` : `row ${row.index} (line ${row.line})`
}

/** Own properties only: a column named "constructor" must not find Object.prototype's. */
function cell(row: RawRow, column: string): CellValue | undefined {
  return Object.hasOwn(row.values, column) ? row.values[column] : undefined
}

/** Absent, empty or blank: leave the field as it is. */
function isUnchanged(value: CellValue | undefined): boolean {
  return value === undefined || (typeof value === 'string' && value.trim() === '')
}

/** A value as the message shows it: quoted, escaped, at most 100 characters. */
function quote(value: string): string {
  return JSON.stringify(clip(value, 100))
}

function clip(value: string, max = 40): string {
  return value.length > max ? `${value.slice(0, max)}…` : value
}

type KeyCheck =
  | { ok: true; key: string }
  | { ok: false; key: string | null; code: 'MISSING_KEY' | 'INVALID_KEY'; message: string }

function checkKey(row: RawRow, spec: RowSpec): KeyCheck {
  const column = spec.keyColumn
  const raw = cell(row, column)
  if (raw === undefined && !Object.hasOwn(row.values, column)) {
    return {
      ok: false,
      key: null,
      code: 'MISSING_KEY',
      message: `: no column ${column} (the key naming the record)`,
    }
  }
  if (raw === null || isUnchanged(raw)) {
    return {
      ok: false,
      key: null,
      code: 'MISSING_KEY',
      message: `, column ${column}: empty; the key naming the record is required`,
    }
  }
  if (typeof raw === 'boolean') {
    return {
      ok: false,
      key: String(raw),
      code: 'INVALID_KEY',
      message: `, column ${column}: ${raw} is not a key`,
    }
  }
  const key = String(raw).trim()
  const invalid = (reason: string): KeyCheck => ({
    ok: false,
    key,
    code: 'INVALID_KEY',
    message: `, column ${column}: ${quote(key)} ${reason}`,
  })
  switch (spec.keyBy) {
    case 'id':
      return looksLikeRecordId(key)
        ? { ok: true, key }
        : invalid('is not a 15- or 18-character Salesforce id')
    case 'externalId':
      if (key.length > MAX_EXTERNAL_ID) return invalid(`is longer than ${MAX_EXTERNAL_ID} characters`)
      if (CONTROL.test(key)) return invalid('contains control characters')
      return { ok: true, key }
    case 'correlationId':
      return isCorrelationId(key)
        ? { ok: true, key }
        : invalid("is not a correlation id (a rejection's rv-… or an exported file's <job id>.<file id>)")
  }
}

function fileNameProblem(name: string): string | null {
  if (name.includes('/') || name.includes('\\')) return 'is not a plain file name (no "/" or "\\")'
  if (name.includes('..') || name === '.') return 'is not a plain file name (no "..")'
  if (CONTROL.test(name)) return 'contains control characters'
  const bytes = new TextEncoder().encode(name).length
  if (bytes > MAX_FILE_NAME_BYTES) return `is ${bytes} bytes long, more than ${MAX_FILE_NAME_BYTES}`
  return null
}

// ---------------------------------------------------------------- error report

export interface RowOutcome {
  index: number
  key: string | null
  outcome: 'applied' | 'rejected'
  code: string | null
  field: string | null
  message: string | null
  recordId: string | null
  documentFileId: string | null
}

const REPORT_COLUMNS = ['row', 'key', 'recordId', 'code', 'field', 'message'] as const

/** "statuses.csv" → "statuses.errors.csv"; XML status files get a CSV report. */
function reportName(fileName: string, extension: 'csv' | 'json'): string {
  const slash = fileName.lastIndexOf('/')
  const dot = fileName.lastIndexOf('.')
  const stem = dot > slash + 1 ? fileName.slice(0, dot) : fileName
  return `${stem}.errors.${extension}`
}

/**
 * The error report written beside a partly applied file: only rejected
 * rows, by row number; CSV (guarded against spreadsheet formula injection,
 * like manifest.ts) or JSON by the status file's format (XML files get a CSV
 * report, the format people open).
 */
export function renderErrorReport(
  format: 'csv' | 'json' | 'xml',
  fileName: string,
  outcomes: readonly RowOutcome[],
): { fileName: string; content: string } {
  const rejected = outcomes.filter((o) => o.outcome === 'rejected').sort((a, b) => a.index - b.index)
  if (format === 'json') {
    const rows = rejected.map((o) => ({
      row: o.index,
      key: o.key,
      recordId: o.recordId,
      code: o.code,
      field: o.field,
      message: o.message,
    }))
    const content = `${JSON.stringify({ statusFile: fileName, rejected: rows.length, rows }, null, 2)}\n`
    return { fileName: reportName(fileName, 'json'), content }
  }
  const body = rejected.map((o) =>
    csvLine([String(o.index), o.key ?? '', o.recordId ?? '', o.code ?? '', o.field ?? '', o.message ?? '']),
  )
  return { fileName: reportName(fileName, 'csv'), content: csvLine(REPORT_COLUMNS) + body.join('') }
}
