/** AWS Signature V4 as S3 uses it: POST-policy signatures and presigned GET URLs. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'

export interface S3Credentials {
  accessKeyId: string
  secretAccessKey: string
  region: string
}

export const ALGORITHM = 'AWS4-HMAC-SHA256'

/** `yyyyMMddTHHmmssZ` */
export function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
}

export function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text)
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : undefined
}

export function credentialScope(date8: string, region: string): string {
  return `${date8}/${region}/s3/aws4_request`
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest()
}

function signingKey(secret: string, date8: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date8), region), 's3'), 'aws4_request')
}

/** The signature of a base64 POST policy, with the date and region named in the credential. */
export function signPolicy(secret: string, date8: string, region: string, policyBase64: string): string {
  return hmac(signingKey(secret, date8, region), policyBase64).toString('hex')
}

export function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** RFC 3986 encoding as SigV4 wants it; '/' is kept in paths only. */
export function uriEncode(text: string, keepSlash = false): string {
  const encoded = encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
  return keepSlash ? encoded.replace(/%2F/g, '/') : encoded
}

function canonicalQuery(params: [string, string][]): string {
  return params
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
}

function requestSignature(
  secret: string,
  method: string,
  canonicalPath: string,
  params: [string, string][],
  host: string,
  date: string,
  scope: string,
  region: string,
): string {
  const canonicalRequest = [
    method,
    canonicalPath,
    canonicalQuery(params),
    `host:${host}\n`,
    'host',
    'UNSIGNED-PAYLOAD',
  ].join('\n')
  const stringToSign = [
    ALGORITHM,
    date,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n')
  return hmac(signingKey(secret, date.slice(0, 8), region), stringToSign).toString('hex')
}

export interface PresignInput {
  origin: string
  /** path below the origin, e.g. /s3/bucket/key (unencoded) */
  path: string
  expiresSeconds: number
  extraParams: [string, string][]
  nowMs: number
}

export function presignGet(credentials: S3Credentials, input: PresignInput): string {
  const date = amzDate(input.nowMs)
  const scope = credentialScope(date.slice(0, 8), credentials.region)
  const params: [string, string][] = [
    ['X-Amz-Algorithm', ALGORITHM],
    ['X-Amz-Credential', `${credentials.accessKeyId}/${scope}`],
    ['X-Amz-Date', date],
    ['X-Amz-Expires', String(input.expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
    ...input.extraParams,
  ]
  const canonicalPath = uriEncode(input.path, true)
  const host = new URL(input.origin).host
  const signature = requestSignature(
    credentials.secretAccessKey,
    'GET',
    canonicalPath,
    params,
    host,
    date,
    scope,
    credentials.region,
  )
  return `${input.origin}${canonicalPath}?${canonicalQuery(params)}&X-Amz-Signature=${signature}`
}

export type PresignCheck = { ok: true } | { ok: false; code: string; message: string }

/** Verifies a presigned request: signature over method, path, query and host; then expiry. */
export function verifyPresigned(
  credentials: S3Credentials,
  method: string,
  path: string,
  search: URLSearchParams,
  host: string,
  nowMs: number,
): PresignCheck {
  const denied = (message: string, code = 'AccessDenied'): PresignCheck => ({ ok: false, code, message })
  const signature = search.get('X-Amz-Signature')
  const credential = search.get('X-Amz-Credential') ?? ''
  const date = search.get('X-Amz-Date') ?? ''
  const expires = Number(search.get('X-Amz-Expires'))
  if (!signature || search.get('X-Amz-Algorithm') !== ALGORITHM)
    return denied('Query-string authentication is required')
  const [accessKeyId, date8, region, service, terminator] = credential.split('/')
  if (accessKeyId !== credentials.accessKeyId)
    return denied('The AWS Access Key Id you provided does not exist in our records.', 'InvalidAccessKeyId')
  if (!date8 || !region || service !== 's3' || terminator !== 'aws4_request' || !date.startsWith(date8)) {
    return denied('Error parsing the X-Amz-Credential parameter', 'AuthorizationQueryParametersError')
  }
  const signedAt = parseAmzDate(date)
  if (signedAt === undefined || !Number.isInteger(expires) || expires < 1 || expires > 604800) {
    return denied('X-Amz-Date or X-Amz-Expires is invalid', 'AuthorizationQueryParametersError')
  }
  const params = [...search.entries()].filter(([k]) => k !== 'X-Amz-Signature')
  const expected = requestSignature(
    credentials.secretAccessKey,
    method,
    uriEncode(path, true),
    params,
    host,
    date,
    credentialScope(date8, region),
    region,
  )
  if (!sameSignature(expected, signature)) {
    return denied(
      'The request signature we calculated does not match the signature you provided.',
      'SignatureDoesNotMatch',
    )
  }
  if (nowMs > signedAt + expires * 1000) return denied('Request has expired')
  return { ok: true }
}
