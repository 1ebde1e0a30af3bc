/**
 * Correlation ids of the review loop: one per rejection, carried in the name
 * of the file returned to the partner so the corrected file that comes back
 * can be tied to the original without asking the partner for anything but
 * keeping the name. Lower-case base 36 so it survives case-folding servers
 * and S-Drive's name rules.
 */
import { randomBytes } from 'node:crypto'
import { posix } from 'node:path'

export const CORRELATION_ID = /^rv-[0-9a-z]{10}$/
const IN_NAME = /(?:^|[^0-9a-z])(rv-[0-9a-z]{10})(?![0-9a-z])/i

export function newCorrelationId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz'
  const bytes = randomBytes(10)
  let id = 'rv-'
  for (const byte of bytes) id += alphabet[byte % alphabet.length]
  return id
}

/** The correlation id a file name carries, if any (partners may upper-case names). */
export function correlationIdIn(fileName: string): string | null {
  const match = IN_NAME.exec(fileName)
  return match ? (match[1] as string).toLowerCase() : null
}

/** `{file.stem}` / `{file.ext}` of a name: "a.b.pdf" → "a.b" + ".pdf"; a leading dot is not an extension. */
export function nameParts(fileName: string): { stem: string; ext: string } {
  const ext = posix.extname(fileName)
  return ext === '' || ext === fileName
    ? { stem: fileName, ext: '' }
    : { stem: fileName.slice(0, -ext.length), ext }
}

/**
 * The correlation id of one exported file: its job and S-Drive file, so a
 * status file that echoes it names the record without any lookup table
 * (the export's ledger key already holds both).
 */
const EXPORT_CORRELATION_ID = /^(run_[0-9a-f]{32})\.([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)$/

export function exportCorrelationId(jobId: string, fileId: string): string {
  return `${jobId}.${fileId}`
}

export function parseExportCorrelationId(id: string): { jobId: string; fileId: string } | null {
  const match = EXPORT_CORRELATION_ID.exec(id)
  return match ? { jobId: match[1] as string, fileId: match[2] as string } : null
}

/** A review correlation id (rv-…) or an exported file's (job.file). */
export function isCorrelationId(id: string): boolean {
  return CORRELATION_ID.test(id) || EXPORT_CORRELATION_ID.test(id)
}
