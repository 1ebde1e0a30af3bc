/**
 * Step 1 of an S-Drive upload: the POST /files body, and the answer turned
 * into S3 browser-POST form fields. Answer shapes differ between S-Drive
 * versions (bare array or {uploadRequestInfo: […]}), so parsing is lenient.
 */
import { BridgeError } from '../../domain/errors.js'
import type { SDriveFileSpec, SDriveTarget, UploadTicket } from '../../ports/sdrive.js'
import { contentDisposition } from './content-disposition.js'

export interface UploadRequestInfo {
  fileName?: string
  fileLocation: string
  fileType?: string
  wipFileId: string
  signature: string
  policy: string
  timeStamp?: string
  awsCredential?: string
  metadataHeaders?: Record<string, unknown> | null
  s3EncryptionType?: string | null
}

export function buildUploadRequest(
  target: SDriveTarget,
  files: readonly SDriveFileSpec[],
): Record<string, unknown> {
  return {
    objectId: target.parentId,
    multipartUpload: false,
    fileType: target.fileObject,
    fileProperties: files.map((f) => ({
      fileName: f.fileName,
      fileLocation: '',
      description: f.description ?? '',
      relationshipFieldName: target.parentField,
      fileType: f.contentType,
      fileSizeInBytes: String(f.sizeBytes),
    })),
    policyMap: {},
  }
}

function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number') return String(value)
  return undefined
}

/** Accepts a bare array, `{uploadRequestInfo: […]}`, or either as JSON text. */
export function parseUploadAnswer(answer: unknown): UploadRequestInfo[] {
  let body = answer
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body)
    } catch {
      throw new BridgeError('SDRIVE_ERROR', 'S-Drive POST /files answered with text that is not JSON')
    }
  }
  const list = Array.isArray(body)
    ? body
    : body &&
        typeof body === 'object' &&
        Array.isArray((body as { uploadRequestInfo?: unknown }).uploadRequestInfo)
      ? (body as { uploadRequestInfo: unknown[] }).uploadRequestInfo
      : undefined
  if (!list) throw new BridgeError('SDRIVE_ERROR', 'S-Drive POST /files answer has no uploadRequestInfo list')
  return list.map((item, i) => {
    const raw = (item ?? {}) as Record<string, unknown>
    const wipFileId = asString(raw.wipFileId)
    const fileLocation = asString(raw.fileLocation)
    const policy = asString(raw.policy)
    const signature = asString(raw.signature)
    if (!wipFileId || !fileLocation || !policy || !signature) {
      throw new BridgeError(
        'SDRIVE_ERROR',
        `S-Drive uploadRequestInfo #${i} lacks wipFileId, fileLocation, policy or signature`,
      )
    }
    const metadata = raw.metadataHeaders
    const info: UploadRequestInfo = {
      wipFileId,
      fileLocation,
      policy,
      signature,
      metadataHeaders:
        metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>) : null,
      s3EncryptionType: asString(raw.s3EncryptionType) ?? null,
    }
    const fileName = asString(raw.fileName)
    if (fileName !== undefined) info.fileName = fileName
    const fileType = asString(raw.fileType)
    if (fileType !== undefined) info.fileType = fileType
    const timeStamp = asString(raw.timeStamp)
    if (timeStamp !== undefined) info.timeStamp = timeStamp
    const awsCredential = asString(raw.awsCredential)
    if (awsCredential !== undefined) info.awsCredential = awsCredential
    return info
  })
}

/** Pairs each requested file with its answer: by fileName first, then leftovers by position. */
export function matchAnswers(
  files: readonly SDriveFileSpec[],
  infos: readonly UploadRequestInfo[],
): UploadRequestInfo[] {
  if (infos.length !== files.length) {
    throw new BridgeError(
      'SDRIVE_ERROR',
      `S-Drive returned ${infos.length} upload slots for ${files.length} files`,
    )
  }
  const used = new Set<number>()
  const matched: (UploadRequestInfo | undefined)[] = files.map((file) => {
    const index = infos.findIndex((info, i) => !used.has(i) && info.fileName === file.fileName)
    if (index < 0) return undefined
    used.add(index)
    return infos[index]
  })
  const leftovers = infos.filter((_, i) => !used.has(i))
  return matched.map((info) => info ?? (leftovers.shift() as UploadRequestInfo))
}

const META_PREFIX = 'x-amz-meta-'

/** Exact-value conditions in the policy ({"acl":"private"}, ["eq","$acl","private"]) that need a form field of their own. */
function policyExactFields(policyBase64: string): [string, string][] {
  let doc: { conditions?: unknown }
  try {
    doc = JSON.parse(Buffer.from(policyBase64, 'base64').toString('utf8')) as { conditions?: unknown }
  } catch {
    return []
  }
  if (!Array.isArray(doc.conditions)) return []
  const out: [string, string][] = []
  for (const condition of doc.conditions) {
    if (Array.isArray(condition)) {
      const [op, name, value] = condition as unknown[]
      if (op === 'eq' && typeof name === 'string' && name.startsWith('$') && typeof value === 'string') {
        out.push([name.slice(1), value])
      }
    } else if (condition && typeof condition === 'object') {
      for (const [name, value] of Object.entries(condition as Record<string, unknown>)) {
        if (typeof value === 'string') out.push([name, value])
      }
    }
  }
  return out
}

/** Fields S3 derives or checks itself rather than reading from the form. */
const notFormFields = new Set(['bucket', 'x-amz-security-token'])

/** The S3 form fields, in the order S-Drive's docs list them; the file part follows them. */
export function buildFormFields(info: UploadRequestInfo, spec: SDriveFileSpec): [string, string][] {
  const fields: [string, string][] = [
    ['key', info.fileLocation],
    ['Content-Type', info.fileType ?? spec.contentType],
    ['Content-Disposition', contentDisposition(info.fileName ?? spec.fileName)],
  ]
  for (const [name, value] of Object.entries(info.metadataHeaders ?? {})) {
    if (value === null || value === undefined) continue
    const field = name.toLowerCase().startsWith(META_PREFIX) ? name : `${META_PREFIX}${name}`
    fields.push([field, String(value)])
  }
  if (info.s3EncryptionType) fields.push(['x-amz-server-side-encryption', info.s3EncryptionType])
  const signed: [string, string][] = [
    ['x-amz-algorithm', 'AWS4-HMAC-SHA256'],
    ['x-amz-credential', info.awsCredential ?? ''],
    ['x-amz-date', info.timeStamp ?? ''],
    ['policy', info.policy],
    ['x-amz-signature', info.signature],
  ]
  // A policy may pin fields S-Drive does not return (e.g. {"acl":"private"}); S3 rejects the form without them.
  const present = new Set([...fields, ...signed].map(([name]) => name.toLowerCase()))
  for (const [name, value] of policyExactFields(info.policy)) {
    const lower = name.toLowerCase()
    if (present.has(lower) || notFormFields.has(lower)) continue
    present.add(lower)
    fields.push([name, value])
  }
  return [...fields, ...signed]
}

export function toTicket(info: UploadRequestInfo, spec: SDriveFileSpec): UploadTicket {
  return {
    fileName: info.fileName ?? spec.fileName,
    wipFileId: info.wipFileId,
    key: info.fileLocation,
    formFields: buildFormFields(info, spec),
  }
}
