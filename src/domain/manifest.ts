/**
 * The companion manifest written beside delivered files: one row per file,
 * CSV (RFC 4180) or JSON. Recipients open CSV manifests in spreadsheets, and
 * record fields come from Salesforce users, so cells that a spreadsheet would
 * run as a formula are defused.
 */
import { csvLine } from './csv-cells.js'

export interface ManifestRow {
  recordId: string
  fileId: string
  /** What a recipient echoes in its status files to name this file's record. */
  correlationId: string
  fileName: string
  remotePath: string
  size: number
  sha256: string
  /**
   * SHA-256 of the file as S-Drive holds it, for flows that encrypt: `sha256` is then of the
   * encrypted bytes delivered. Absent (and no column) otherwise, where the two are the same.
   */
  plaintextSha256?: string
  /** ISO 8601. */
  deliveredAt: string
  /** The configured record fields by name; null where the record has no value. */
  fields: Record<string, string | null>
}

export type ManifestFormat = 'csv' | 'json'

const FIXED_COLUMNS = [
  'recordId',
  'fileId',
  'fileName',
  'remotePath',
  'size',
  'sha256',
  'deliveredAt',
  'correlationId',
] as const

/** Renders the manifest; `recordFields` fixes the extra columns and their order. */
export function renderManifest(
  format: ManifestFormat,
  rows: ManifestRow[],
  recordFields: string[],
  options: { plaintextDigest?: boolean } = {},
): string {
  const plain = options.plaintextDigest === true
  if (format === 'json') {
    const files = rows.map((row) => ({
      recordId: row.recordId,
      fileId: row.fileId,
      fileName: row.fileName,
      remotePath: row.remotePath,
      size: row.size,
      sha256: row.sha256,
      ...(plain ? { plaintextSha256: row.plaintextSha256 ?? '' } : {}),
      deliveredAt: row.deliveredAt,
      correlationId: row.correlationId,
      fields: Object.fromEntries(recordFields.map((field) => [field, row.fields[field] ?? null])),
    }))
    return `${JSON.stringify({ files }, null, 2)}\n`
  }
  const fixed = plain ? [...FIXED_COLUMNS, 'plaintextSha256'] : FIXED_COLUMNS
  const header = csvLine([...fixed, ...recordFields])
  const body = rows.map((row) =>
    csvLine([
      row.recordId,
      row.fileId,
      row.fileName,
      row.remotePath,
      String(row.size),
      row.sha256,
      row.deliveredAt,
      row.correlationId,
      ...(plain ? [row.plaintextSha256 ?? ''] : []),
      // RFC 4180 has no null: an empty cell stands for a missing value.
      ...recordFields.map((field) => row.fields[field] ?? ''),
    ]),
  )
  return header + body.join('')
}
