/** The S3 bucket endpoint: browser-POST uploads (policy-checked) and presigned GETs. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Readable, Transform } from 'node:stream'
import busboy from 'busboy'
import { type ApiResult, escapeXml, s3Error, writeResult } from './http.js'
import { checkPolicy, decodePolicy } from './s3-policy.js'
import type { S3Store } from './s3-store.js'
import { ALGORITHM, type S3Credentials, sameSignature, signPolicy, verifyPresigned } from './sigv4.js'
import type { FaultSpec } from './types.js'

export interface S3Endpoint {
  bucket: string
  credentials: S3Credentials
  store: S3Store
  now: () => number
  origin: string
}

/** S3 substitutes the uploaded file's name for this variable in the key field. */
const FILENAME_VARIABLE = '$' + '{filename}'

type FormCheck = { ok: true; range?: { min: number; max: number } } | { ok: false; error: ApiResult }

function denied(message: string, code = 'AccessDenied'): FormCheck {
  return { ok: false, error: s3Error(403, code, message) }
}

/** Everything S3 checks before it accepts the file part of a POST form. */
function checkForm(endpoint: S3Endpoint, fields: Map<string, string>): FormCheck {
  for (const name of [
    'key',
    'policy',
    'x-amz-signature',
    'x-amz-credential',
    'x-amz-algorithm',
    'x-amz-date',
  ]) {
    if (!fields.has(name)) {
      return {
        ok: false,
        error: s3Error(400, 'InvalidArgument', `Bucket POST must contain a field named '${name}'.`),
      }
    }
  }
  if (fields.get('x-amz-algorithm') !== ALGORITHM) {
    return { ok: false, error: s3Error(400, 'InvalidArgument', 'Only AWS4-HMAC-SHA256 is supported') }
  }
  const [accessKeyId, date8, region, service, terminator] = fields.get('x-amz-credential')!.split('/')
  if (accessKeyId !== endpoint.credentials.accessKeyId) {
    return denied('The AWS Access Key Id you provided does not exist in our records.', 'InvalidAccessKeyId')
  }
  if (!date8 || !region || service !== 's3' || terminator !== 'aws4_request') {
    return { ok: false, error: s3Error(400, 'InvalidArgument', 'Invalid x-amz-credential') }
  }
  const policyBase64 = fields.get('policy')!
  const expected = signPolicy(endpoint.credentials.secretAccessKey, date8, region, policyBase64)
  if (!sameSignature(expected, fields.get('x-amz-signature')!)) {
    return denied(
      'The request signature we calculated does not match the signature you provided.',
      'SignatureDoesNotMatch',
    )
  }
  const policy = decodePolicy(policyBase64)
  if (!policy)
    return { ok: false, error: s3Error(400, 'InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.') }
  const verdict = checkPolicy(policy, fields, endpoint.bucket, endpoint.now())
  if (!verdict.ok) return denied(verdict.message)
  return verdict.lengthRange ? { ok: true, range: verdict.lengthRange } : { ok: true }
}

function send(res: ServerResponse, result: ApiResult): void {
  if (!res.headersSent && !res.destroyed) writeResult(res, result)
}

/** Lets `limit` body bytes through, then kills the connection: a client losing its network mid-upload. */
function dropAfter(req: IncomingMessage, limit: number): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const room = limit - seen
      seen += chunk.length
      if (room > 0) this.push(room >= chunk.length ? chunk : chunk.subarray(0, room))
      if (seen >= limit) {
        req.socket.destroy()
        this.destroy(new Error('connection dropped by fault injection'))
      }
      callback()
    },
  })
}

export function handleS3Post(
  endpoint: S3Endpoint,
  req: IncomingMessage,
  res: ServerResponse,
  fault?: FaultSpec,
): void {
  if (fault && fault.dropAfterBytes === undefined) {
    req.resume()
    req.once('end', () => send(res, faultResult(fault)))
    return
  }
  let form: busboy.Busboy
  try {
    form = busboy({ headers: req.headers, limits: { fieldSize: 1024 * 1024, fields: 200 } })
  } catch {
    send(
      res,
      s3Error(412, 'PreconditionFailed', 'Bucket POST must be of the enclosure-type multipart/form-data'),
    )
    req.resume()
    return
  }
  const fields = new Map<string, string>()
  let outcome: Promise<ApiResult> | undefined
  // AWS ignores fields after the file, so only those before it count.
  form.on('field', (name, value) => {
    if (!outcome) fields.set(name.toLowerCase(), value)
  })
  form.on('file', (name, stream, info) => {
    if (name !== 'file' || outcome) {
      stream.resume()
      return
    }
    const key = fields.get('key')?.replace(FILENAME_VARIABLE, info.filename ?? '')
    if (key !== undefined) fields.set('key', key)
    const check = checkForm(endpoint, fields)
    if (!check.ok) {
      stream.resume()
      outcome = Promise.resolve(check.error)
      return
    }
    outcome = receive(endpoint, key!, stream, check.range, fields)
  })
  form.on('close', () => {
    const pending =
      outcome ??
      Promise.resolve(s3Error(400, 'InvalidArgument', 'POST requires exactly one file upload per request.'))
    pending.then(
      (result) => send(res, result),
      () => res.destroy(),
    )
  })
  form.on('error', () => {
    if (outcome) outcome.catch(() => undefined)
    send(
      res,
      s3Error(
        400,
        'MalformedPOSTRequest',
        'The body of your POST request is not well-formed multipart/form-data.',
      ),
    )
  })
  if (fault?.dropAfterBytes !== undefined) {
    const cut = dropAfter(req, fault.dropAfterBytes)
    cut.on('error', (error) => form.destroy(error))
    req.pipe(cut).pipe(form)
  } else {
    req.pipe(form)
  }
}

async function receive(
  endpoint: S3Endpoint,
  key: string,
  body: Readable,
  range: { min: number; max: number } | undefined,
  fields: Map<string, string>,
): Promise<ApiResult> {
  const metadata = Object.fromEntries([...fields].filter(([name]) => name.startsWith('x-amz-meta-')))
  const contentDisposition = fields.get('content-disposition')
  const stored = await endpoint.store.receive(key, body, range, {
    contentType: fields.get('content-type') ?? 'binary/octet-stream',
    ...(contentDisposition === undefined ? {} : { contentDisposition }),
    metadata,
  })
  if (!stored.ok) {
    const tooLarge = stored.code === 'EntityTooLarge'
    return s3Error(
      400,
      stored.code,
      tooLarge
        ? 'Your proposed upload exceeds the maximum allowed size'
        : 'Your proposed upload is smaller than the minimum allowed size',
      {
        ProposedSize: String(stored.size),
        [tooLarge ? 'MaxSizeAllowed' : 'MinSizeAllowed']: String(tooLarge ? range!.max : range!.min),
      },
    )
  }
  const location = `${endpoint.origin}/s3/${endpoint.bucket}/${encodeURIComponent(key)}`
  const headers: Record<string, string> = { etag: stored.object.etag, location }
  if (stored.object.versionId) headers['x-amz-version-id'] = stored.object.versionId
  const status = fields.get('success_action_status')
  if (status === '201') {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${escapeXml(location)}</Location><Bucket>${escapeXml(endpoint.bucket)}</Bucket><Key>${escapeXml(key)}</Key><ETag>${escapeXml(stored.object.etag)}</ETag></PostResponse>`
    return { status: 201, body: xml, headers: { ...headers, 'content-type': 'application/xml' } }
  }
  return { status: status === '200' ? 200 : 204, headers }
}

export function faultResult(fault: FaultSpec): ApiResult {
  if (fault.body !== undefined) return { status: fault.status, body: fault.body }
  const code = fault.status === 503 ? 'SlowDown' : fault.status >= 500 ? 'InternalError' : 'AccessDenied'
  return s3Error(fault.status, fault.errorCode ?? code, fault.message ?? 'Injected fault')
}

/** GET/HEAD /s3/<bucket>/<key> with a presigned query string; honours a single byte Range. */
export function handleS3Get(
  endpoint: S3Endpoint,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  key: string,
): void {
  const method = req.method === 'HEAD' ? 'HEAD' : 'GET'
  const path = decodeURIComponent(url.pathname)
  const check = verifyPresigned(
    endpoint.credentials,
    method,
    path,
    url.searchParams,
    req.headers.host ?? '',
    endpoint.now(),
  )
  if (!check.ok) {
    send(res, s3Error(403, check.code, check.message))
    return
  }
  const object = endpoint.store.get(key)
  if (!object) {
    send(res, s3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }))
    return
  }
  const headers: Record<string, string> = {
    'content-type': url.searchParams.get('response-content-type') ?? object.contentType,
    etag: object.etag,
    'last-modified': object.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
  }
  const disposition = url.searchParams.get('response-content-disposition') ?? object.contentDisposition
  if (disposition) headers['content-disposition'] = disposition
  if (object.versionId) headers['x-amz-version-id'] = object.versionId
  for (const [name, value] of Object.entries(object.metadata)) headers[name] = value
  let range: { start: number; end: number } | undefined
  const rangeHeader = req.headers.range
  if (rangeHeader) {
    range = parseRange(rangeHeader, object.size)
    if (!range) {
      send(res, {
        ...s3Error(416, 'InvalidRange', 'The requested range is not satisfiable'),
        headers: { 'content-range': `bytes */${object.size}`, 'content-type': 'application/xml' },
      })
      return
    }
    headers['content-range'] = `bytes ${range.start}-${range.end}/${object.size}`
  }
  headers['content-length'] = String(range ? range.end - range.start + 1 : object.size)
  res.writeHead(range ? 206 : 200, headers)
  if (method === 'HEAD' || object.size === 0) {
    res.end()
    return
  }
  const body = endpoint.store.read(key, range)!
  body.on('error', () => res.destroy())
  body.pipe(res)
}

function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match || (match[1] === '' && match[2] === '')) return undefined
  let start: number
  let end: number
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]))
    end = size - 1
  } else {
    start = Number(match[1])
    end = match[2] === '' ? size - 1 : Math.min(size - 1, Number(match[2]))
  }
  return start <= end && start < size ? { start, end } : undefined
}
