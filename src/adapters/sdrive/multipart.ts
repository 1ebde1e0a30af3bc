/**
 * multipart/form-data framing for the S3 browser POST, computed up front so
 * the request can carry an exact Content-Length (S3 refuses chunked POSTs).
 */
import { randomBytes } from 'node:crypto'
import { asciiFallback } from './content-disposition.js'

export interface MultipartFrame {
  boundary: string
  preamble: Buffer
  epilogue: Buffer
  contentLength: number
}

/** Quoted-string for a form-data parameter: CR, LF and `"` percent-encoded as the HTML form spec does. */
function quoteParam(value: string): string {
  return value.replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/"/g, '%22')
}

export function buildMultipartFrame(
  fields: readonly [string, string][],
  fileName: string,
  contentType: string,
  sizeBytes: number,
  boundary = `----sdrive-bridge-${randomBytes(12).toString('hex')}`,
): MultipartFrame {
  const parts: string[] = []
  for (const [name, value] of fields) {
    parts.push(
      `--${boundary}\r\nContent-Disposition: form-data; name="${quoteParam(name)}"\r\n\r\n${value}\r\n`,
    )
  }
  parts.push(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoteParam(asciiFallback(fileName))}"\r\n` +
      `Content-Type: ${contentType}\r\n\r\n`,
  )
  const preamble = Buffer.from(parts.join(''), 'utf8')
  const epilogue = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8')
  return { boundary, preamble, epilogue, contentLength: preamble.length + sizeBytes + epilogue.length }
}
