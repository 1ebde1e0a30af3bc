import type { IncomingMessage, ServerResponse } from 'node:http'

/** What an API handler answers; the server writes it (composite reuses handlers through this). */
export interface ApiResult {
  status: number
  body?: unknown
  headers?: Record<string, string>
}

/** Salesforce's error body: an array of {message, errorCode[, fields]}. */
export function sfError(status: number, errorCode: string, message: string, fields?: string[]): ApiResult {
  return { status, body: [{ message, errorCode, ...(fields ? { fields } : {}) }] }
}

/** S-Drive's error body, as its Apex REST resource writes it. */
export function sdriveError(status: number, errorCode: string, message: string): ApiResult {
  return { status, body: [{ errorCode, message }] }
}

export class BodyTooLargeError extends Error {}

/** Reads a whole (small) request body; API bodies are JSON or forms, never file bytes. */
export async function readBody(req: IncomingMessage, limit = 50 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw new BodyTooLargeError(`request body over ${limit} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

export function writeResult(res: ServerResponse, result: ApiResult): void {
  const headers: Record<string, string> = { ...result.headers }
  if (result.body === undefined) {
    res.writeHead(result.status, headers).end()
    return
  }
  const text = typeof result.body === 'string' ? result.body : JSON.stringify(result.body)
  headers['content-type'] ??=
    typeof result.body === 'string' ? 'text/plain' : 'application/json;charset=UTF-8'
  headers['content-length'] = String(Buffer.byteLength(text))
  res.writeHead(result.status, headers).end(text)
}

export function s3ErrorXml(code: string, message: string, extra: Record<string, string> = {}): string {
  const fields = Object.entries({ Code: code, Message: message, ...extra })
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join('')
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${fields}<RequestId>SANDBOX</RequestId></Error>`
}

export function s3Error(
  status: number,
  code: string,
  message: string,
  extra?: Record<string, string>,
): ApiResult {
  return { status, body: s3ErrorXml(code, message, extra), headers: { 'content-type': 'application/xml' } }
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
}
