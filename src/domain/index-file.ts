/**
 * Index (sidecar) files of inbound batches: a CSV with a header row, a JSON
 * array of objects (or an object holding one, e.g. {files: [...]}), or XML
 * whose repeated elements carry the columns as child elements or
 * attributes. Each row names one file of the batch folder and its columns
 * become `{index.Column}` placeholders. Pure: the bytes come in, rows or
 * INDEX_INVALID come out. The formats are read by the status-file parser,
 * which already bounds depth, columns and cell sizes.
 */
import { posix } from 'node:path'
import { parseStatusFile } from './status-file.js'

export interface IndexRow {
  /** 1-based data row (the CSV header is row 0). */
  row: number
  /** The file name the row is about (a path in the cell is cut to its last segment). */
  file: string
  /** Column → text; a JSON null or number is given as text ('' for null). */
  columns: Record<string, string>
}

export type IndexFormat = 'csv' | 'json' | 'xml'

export type ParsedIndex =
  | { ok: true; format: IndexFormat; rows: IndexRow[]; columns: string[] }
  | { ok: false; code: 'INDEX_INVALID'; message: string }

export interface IndexParseOptions {
  /** The column holding the file name, matched in any case. */
  fileColumn: string
}

/** .json and .xml by their extension; anything else by its first character, CSV when it is neither. */
export function indexFormatOf(name: string, bytes: Uint8Array): IndexFormat {
  const ext = posix.extname(name).toLowerCase()
  if (ext === '.json') return 'json'
  if (ext === '.xml') return 'xml'
  if (ext === '.csv') return 'csv'
  const text = Buffer.from(bytes.subarray(0, 64))
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart()
  if (text.startsWith('[') || text.startsWith('{')) return 'json'
  if (text.startsWith('<')) return 'xml'
  return 'csv'
}

export function parseIndexFile(name: string, bytes: Uint8Array, options: IndexParseOptions): ParsedIndex {
  const format = indexFormatOf(name, bytes)
  const base = { encoding: 'utf8' as const, delimiter: ',', maxBytes: bytes.length + 1 }
  let parsed = parseStatusFile(bytes, { ...base, type: format, recordsPath: '' })
  // {files: [...], generatedAt: ...}: the rows are under "files" even with other properties beside it.
  if (!parsed.ok && format === 'json') {
    const again = parseStatusFile(bytes, { ...base, type: format, recordsPath: 'files' })
    if (again.ok) parsed = again
  }
  if (!parsed.ok) return invalid(`${name}: ${parsed.message}`)
  const fileColumn = parsed.columns.find((c) => c.toLowerCase() === options.fileColumn.toLowerCase())
  if (parsed.rows.length > 0 && fileColumn === undefined) {
    return invalid(
      `${name}: no "${options.fileColumn}" column (index.fileColumn); columns: ${parsed.columns.join(', ')}`,
    )
  }
  const rows: IndexRow[] = []
  const seen = new Map<string, number>()
  for (const raw of parsed.rows) {
    const columns: Record<string, string> = {}
    for (const [column, value] of Object.entries(raw.values))
      columns[column] = value === null ? '' : String(value)
    const cell = (columns[fileColumn as string] ?? '').trim()
    const file = posix.basename(cell.replaceAll('\\', '/'))
    if (file === '' || file === '.' || file === '..') {
      // A blank line at the end of a CSV is no row; a row with data but no file name is a mistake.
      if (Object.values(columns).every((v) => v.trim() === '')) continue
      return invalid(`${name}: row ${raw.index} has no file name in "${fileColumn}"`)
    }
    const earlier = seen.get(file)
    if (earlier !== undefined) {
      return invalid(`${name}: rows ${earlier} and ${raw.index} both name "${file}"`)
    }
    seen.set(file, raw.index)
    rows.push({ row: raw.index, file, columns })
  }
  return { ok: true, format, rows, columns: parsed.columns }
}

function invalid(message: string): ParsedIndex {
  return { ok: false, code: 'INDEX_INVALID', message }
}
