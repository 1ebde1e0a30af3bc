/** S-Drive's Apex REST resource /services/apexrest/cg/SDrive/files (reference §1). */

import { type ApiResult, sdriveError } from './http.js'
import { sameId } from './ids.js'
import { encodePolicy } from './s3-policy.js'
import type { S3Store } from './s3-store.js'
import { PACKAGED_FILE_OBJECTS } from './schema.js'
import { ALGORITHM, amzDate, credentialScope, presignGet, type S3Credentials, signPolicy } from './sigv4.js'
import type { ObjectTable, RecordStore, SObjectRecord } from './store.js'

export interface SDriveSettings {
  store: RecordStore
  s3: S3Store
  credentials: S3Credentials
  bucket: string
  origin: string
  now: () => number
  maxFileSizeBytes: number
  postResponseShape: 'array' | 'wrapped'
  idListEncoding: 'comma' | 'json' | 'either'
  encryption: boolean
  versions: boolean
  resultNames: { list: string; id: string; success: string; message: string }
}

const INVALID_NAME_CHARS = /[\\/:*?"<>|~]/
const POLICY_LIFETIME_MS = 60 * 60 * 1000
const MAX_LINK_SECONDS = 604800
const DEFAULT_LINK_SECONDS = 3600

type Json = Record<string, unknown>

interface FileRef {
  table: ObjectTable
  record: SObjectRecord
  prefix: string
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

/**
 * Apex REST query params are single strings, so id lists arrive as `a,b` or
 * `["a","b"]`; an org that only knows one encoding reads the other as one
 * odd id (comma) or as malformed (json).
 */
function parseIdList(
  text: string | null,
  encoding: SDriveSettings['idListEncoding'],
): string[] | 'malformed' | undefined {
  if (text === null || text.trim() === '') return undefined
  if (encoding === 'comma') return text.split(',').map((v) => v.trim())
  if (encoding === 'json' || text.trim().startsWith('[')) {
    const parsed = parseJson(text)
    if (!parsed.ok || !Array.isArray(parsed.value)) return 'malformed'
    return parsed.value.map((v) => (v === null ? '' : String(v)))
  }
  return text.split(',').map((v) => v.trim())
}

/** One file of an upload request, as its fileProperties entry describes it. */
interface UploadFile {
  fileName: string
  size: number
  mime: string
  description: string
  folder: string
  relationField: string
}

/** One fileProperties entry of an upload request, checked in S-Drive's order; the first failure is the answer. */
function readFileProperty(
  raw: unknown,
  fileObject: string,
  maxFileSizeBytes: number,
): { file: UploadFile } | { error: ApiResult } {
  if (!isObject(raw))
    return { error: sdriveError(403, 'INVALID_INPUT', 'each fileProperty must be an object') }
  const fileName = typeof raw.fileName === 'string' ? raw.fileName : ''
  const sizeText =
    raw.fileSizeInBytes === undefined || raw.fileSizeInBytes === null
      ? ''
      : String(raw.fileSizeInBytes).trim()
  if (fileName.trim() === '' || sizeText === '') {
    return { error: sdriveError(412, 'MISSING_REQUIRED_FIELD', 'fileName and fileSizeInBytes are required') }
  }
  if (INVALID_NAME_CHARS.test(fileName)) {
    return {
      error: sdriveError(
        406,
        'INVALID_FILE_NAME',
        `File name cannot contain \\ / : * ? " < > | ~ (${fileName})`,
      ),
    }
  }
  const size = Number(sizeText)
  if (!Number.isSafeInteger(size) || size < 0) {
    return {
      error: sdriveError(406, 'INVALID_FILE_SIZE', `fileSizeInBytes must be a whole number (${sizeText})`),
    }
  }
  if (size === 0)
    return { error: sdriveError(422, 'INVALID_FILE_SIZE', `File size cannot be 0 (${fileName})`) }
  if (size > maxFileSizeBytes) {
    return {
      error: sdriveError(
        422,
        'FILE_TOO_LARGE',
        `File size exceeds the maximum of ${maxFileSizeBytes} bytes (${fileName})`,
      ),
    }
  }
  const relationField =
    typeof raw.relationshipFieldName === 'string' && raw.relationshipFieldName !== ''
      ? raw.relationshipFieldName
      : defaultParentField(fileObject)
  return {
    file: {
      fileName,
      size,
      mime:
        typeof raw.fileType === 'string' && raw.fileType !== '' ? raw.fileType : 'application/octet-stream',
      description: typeof raw.description === 'string' ? raw.description : '',
      folder: typeof raw.fileLocation === 'string' ? raw.fileLocation : '',
      relationField,
    },
  }
}

export class SDriveFiles {
  constructor(private readonly settings: SDriveSettings) {}

  async handle(method: string, search: URLSearchParams, body: string): Promise<ApiResult> {
    switch (method) {
      case 'POST':
        return this.initializeUpload(body)
      case 'PUT':
        return this.completeUpload(body)
      case 'GET':
        return this.downloadUrls(search)
      case 'DELETE':
        return this.deleteFiles(search)
      default:
        return sdriveError(
          405,
          'METHOD_NOT_ALLOWED',
          `HTTP Method '${method}' not allowed. Allowed are GET,POST,PUT,DELETE`,
        )
    }
  }

  private initializeUpload(text: string): ApiResult {
    const parsed = parseJson(text)
    if (!parsed.ok || !isObject(parsed.value))
      return sdriveError(403, 'INVALID_INPUT', 'Request body is not valid JSON')
    const input = parsed.value
    if (typeof input.objectId !== 'string' || input.objectId === '') {
      return sdriveError(412, 'MISSING_REQUIRED_FIELD', 'objectId is required')
    }
    const parent = this.settings.store.find(input.objectId)
    if (!parent) return sdriveError(404, 'NOT_FOUND', `No record found for objectId ${input.objectId}`)
    if (input.fileProperties !== undefined && !Array.isArray(input.fileProperties)) {
      return sdriveError(403, 'INVALID_INPUT', 'fileProperties must be an array')
    }
    const properties = (input.fileProperties ?? []) as unknown[]
    if (properties.length === 0)
      return sdriveError(412, 'MISSING_REQUIRED_FIELD', 'fileProperties is required')
    if (input.policyMap !== undefined && input.policyMap !== null && !isObject(input.policyMap)) {
      return sdriveError(403, 'INVALID_INPUT', 'policyMap must be an object of key/value pairs')
    }
    const fileType =
      typeof input.fileType === 'string' && input.fileType !== ''
        ? input.fileType
        : `cg__${parent.table.name}File__c`
    const table = this.fileTable(fileType)
    if (!table) return sdriveError(422, 'INVALID_FILE_TYPE', `${fileType} is not an S-Drive file object`)
    const files: UploadFile[] = []
    for (const raw of properties) {
      const read = readFileProperty(raw, table.name, this.settings.maxFileSizeBytes)
      if ('error' in read) return read.error
      files.push(read.file)
    }
    const parentId = String(parent.record.Id)
    const infos = files.map((file) => {
      const { id, key } = this.createWipFile(table, parentId, file)
      return this.uploadRequestInfo(id, key, parentId, file, (input.policyMap ?? {}) as Json)
    })
    const body = this.settings.postResponseShape === 'wrapped' ? { uploadRequestInfo: infos } : infos
    return { status: 201, body }
  }

  /** The WIP file record of one file of an upload, with its S3 key. */
  private createWipFile(table: ObjectTable, parentId: string, file: UploadFile): { id: string; key: string } {
    const { store } = this.settings
    const prefix = table.fileFieldPrefix ?? ''
    store.addFields(table, [file.relationField])
    const id = store.create(table, {
      [`${prefix}File_Name__c`]: file.fileName,
      [`${prefix}File_Size_in_Bytes__c`]: file.size,
      [`${prefix}Content_Type__c`]: file.mime,
      [`${prefix}Description__c`]: file.description,
      [`${prefix}WIP__c`]: true,
      [`${prefix}Is_Deleted__c`]: false,
      ...(this.settings.versions ? { [`${prefix}Is_Latest_Version__c`]: true } : {}),
      [`${prefix}Parent_Folder_Id__c`]: file.folder === '' ? null : file.folder,
      [`${prefix}Bucket_Id__c`]: this.settings.bucket,
      [file.relationField]: parentId,
    })
    const key = `${parentId}/${id}/${file.fileName}`
    store.patch(table, id, { [`${prefix}Key__c`]: key })
    return { id, key }
  }

  private uploadRequestInfo(
    wipFileId: string,
    key: string,
    parentId: string,
    file: { fileName: string; size: number; mime: string },
    policyMap: Json,
  ) {
    const { credentials, bucket } = this.settings
    const now = this.settings.now()
    const timeStamp = amzDate(now)
    const awsCredential = `${credentials.accessKeyId}/${credentialScope(timeStamp.slice(0, 8), credentials.region)}`
    const metadataHeaders = { 'x-amz-meta-sdrive-parent': parentId }
    let conditions: unknown[] = [
      { bucket },
      ['starts-with', '$key', `${parentId}/`],
      ['starts-with', '$Content-Disposition', 'attachment; filename'],
      { 'Content-Type': file.mime },
      { 'x-amz-credential': awsCredential },
      { 'x-amz-algorithm': ALGORITHM },
      { 'x-amz-date': timeStamp },
      ...(this.settings.encryption ? [{ 'x-amz-server-side-encryption': 'AES256' }] : []),
      ['content-length-range', 1, file.size],
      ...Object.entries(metadataHeaders).map(([name, value]) => ({ [name]: value })),
    ]
    for (const [name, value] of Object.entries(policyMap)) {
      const field = name.replace(/^\$/, '').toLowerCase()
      conditions = conditions.filter((c) => conditionField(c) !== field)
      conditions.push(name.startsWith('$') ? ['starts-with', name, String(value)] : { [name]: String(value) })
    }
    const policy = encodePolicy({ expiration: new Date(now + POLICY_LIFETIME_MS).toISOString(), conditions })
    return {
      fileName: file.fileName,
      fileLocation: key,
      fileSize: String(file.size),
      fileType: file.mime,
      wipFileId,
      signature: signPolicy(credentials.secretAccessKey, timeStamp.slice(0, 8), credentials.region, policy),
      policy,
      timeStamp,
      awsRegion: credentials.region,
      awsCredential,
      metadataHeaders,
      s3EncryptionType: this.settings.encryption ? 'AES256' : null,
    }
  }

  private completeUpload(text: string): ApiResult {
    const parsed = parseJson(text)
    if (!parsed.ok || !isObject(parsed.value))
      return sdriveError(403, 'INVALID_INPUT', 'Request body is not valid JSON')
    const { wipIds, versionIds } = parsed.value
    if (wipIds === undefined || (Array.isArray(wipIds) && wipIds.length === 0)) {
      return sdriveError(412, 'MISSING_REQUIRED_FIELD', 'wipIds is required')
    }
    if (!Array.isArray(wipIds) || !wipIds.every((id) => typeof id === 'string')) {
      return sdriveError(403, 'INVALID_INPUT', 'wipIds must be an array of ids')
    }
    if (
      versionIds !== undefined &&
      versionIds !== null &&
      (!Array.isArray(versionIds) || versionIds.length !== wipIds.length)
    ) {
      return sdriveError(422, 'INVALID_INPUT', 'versionIds must match wipIds one to one')
    }
    const refs = wipIds.map((id) => this.fileRef(id))
    const missing = wipIds.filter((_, i) => !refs[i])
    if (missing.length > 0) return sdriveError(404, 'NOT_FOUND', `Unknown wipIds: ${missing.join(', ')}`)
    const resultObjects = refs.map((ref, i) => {
      const { table, record, prefix } = ref!
      const wipFileId = wipIds[i] as string
      const names = this.settings.resultNames
      const outcome = (success: boolean, message: string) => ({
        [names.id]: wipFileId,
        ...(names.id === 'wipFileId' ? { fileObjectId: String(record.Id) } : {}),
        [names.success]: success,
        [names.message]: message,
      })
      if (record[`${prefix}WIP__c`] === false) return outcome(true, 'Upload already completed')
      const object = this.settings.s3.get(String(record[`${prefix}Key__c`]))
      if (!object) return outcome(false, 'The file was not found in S3')
      const expected = Number(record[`${prefix}File_Size_in_Bytes__c`])
      if (object.size !== expected) {
        return outcome(false, `Size mismatch: the record says ${expected} bytes, S3 holds ${object.size}`)
      }
      const versionId =
        Array.isArray(versionIds) && versionIds[i] ? String(versionIds[i]) : (object.versionId ?? null)
      this.settings.store.patch(table, String(record.Id), {
        [`${prefix}WIP__c`]: false,
        [`${prefix}Version_Id__c`]: versionId,
      })
      return outcome(true, 'Upload completed')
    })
    return { status: 200, body: { [this.settings.resultNames.list]: resultObjects } }
  }

  private downloadUrls(search: URLSearchParams): ApiResult {
    const ids = parseIdList(search.get('fileObjectId'), this.settings.idListEncoding)
    const parents = parseIdList(search.get('parentId'), this.settings.idListEncoding)
    if (ids === 'malformed' || parents === 'malformed')
      return sdriveError(403, 'INVALID_INPUT', 'id lists must be comma-separated or JSON arrays')
    if (!ids || !parents)
      return sdriveError(412, 'MISSING_REQUIRED_FIELD', 'fileObjectId and parentId are required')
    if (ids.length !== parents.length)
      return sdriveError(422, 'INVALID_INPUT', 'fileObjectId and parentId must have the same length')
    const timeText = search.get('timeValue')
    const seconds = timeText === null || timeText === '' ? DEFAULT_LINK_SECONDS : Number(timeText)
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_LINK_SECONDS) {
      return sdriveError(422, 'INVALID_INPUT', `timeValue must be 1..${MAX_LINK_SECONDS} seconds`)
    }
    const refs = ids.map((id) => this.fileRef(id))
    const missing = ids.filter(
      (_, i) => !refs[i] || refs[i]!.record[`${refs[i]!.prefix}Is_Deleted__c`] === true,
    )
    if (missing.length > 0)
      return sdriveError(404, 'NOT_FOUND', `Unknown fileObjectIds: ${missing.join(', ')}`)
    const extraParams = [...search.entries()].filter(
      ([name]) => !['fileObjectId', 'parentId', 'timeValue'].includes(name),
    )
    const fileUrls: string[] = []
    for (const [i, ref] of refs.entries()) {
      const { record, prefix, table } = ref!
      if (record[`${prefix}WIP__c`] === true)
        return sdriveError(422, 'UPLOAD_NOT_COMPLETE', `File ${record.Id} is still uploading`)
      if (!belongsTo(table, record, parents[i]!)) {
        return sdriveError(422, 'INVALID_INPUT', `File ${record.Id} does not belong to ${parents[i]}`)
      }
      fileUrls.push(
        presignGet(this.settings.credentials, {
          origin: this.settings.origin,
          path: `/s3/${this.settings.bucket}/${String(record[`${prefix}Key__c`])}`,
          expiresSeconds: seconds,
          extraParams,
          nowMs: this.settings.now(),
        }),
      )
    }
    return { status: 200, body: { fileUrls } }
  }

  private async deleteFiles(search: URLSearchParams): Promise<ApiResult> {
    const objectId = search.get('objectId')
    const ids = parseIdList(search.get('fileObjectId'), this.settings.idListEncoding)
    if (ids === 'malformed')
      return sdriveError(403, 'INVALID_INPUT', 'fileObjectId must be comma-separated or a JSON array')
    if (!objectId || !ids)
      return sdriveError(412, 'MISSING_REQUIRED_FIELD', 'objectId and fileObjectId are required')
    const refs = ids.map((id) => this.fileRef(id))
    const missing = ids.filter((_, i) => !refs[i])
    if (missing.length > 0)
      return sdriveError(404, 'NOT_FOUND', `Unknown fileObjectIds: ${missing.join(', ')}`)
    const stranger = refs.find((ref) => !belongsTo(ref!.table, ref!.record, objectId))
    if (stranger)
      return sdriveError(422, 'INVALID_INPUT', `File ${stranger.record.Id} does not belong to ${objectId}`)
    const resultObjects = []
    for (const ref of refs) {
      const { table, record, prefix } = ref!
      const id = String(record.Id)
      if (record[`${prefix}WIP__c`] === true) {
        await this.settings.s3.delete(String(record[`${prefix}Key__c`]))
        this.settings.store.hardDelete(table, id)
        resultObjects.push({ fileObjectId: id, success: true, message: 'Upload cancelled' })
      } else {
        this.settings.store.patch(table, id, { [`${prefix}Is_Deleted__c`]: true })
        resultObjects.push({ fileObjectId: id, success: true, message: 'Moved to the recycle bin' })
      }
    }
    return { status: 200, body: { resultObjects } }
  }

  private fileTable(name: string): ObjectTable | undefined {
    const { store } = this.settings
    const existing = store.existingTable(name)
    if (existing?.fileFieldPrefix !== undefined) return existing
    if (!name.endsWith('__c')) return undefined
    return store.defineFileObject(name)
  }

  private fileRef(id: unknown): FileRef | undefined {
    const found = this.settings.store.find(id)
    if (!found || found.table.fileFieldPrefix === undefined) return undefined
    return { ...found, prefix: found.table.fileFieldPrefix }
  }
}

function defaultParentField(fileObject: string): string {
  const parent = PACKAGED_FILE_OBJECTS[fileObject]
  return parent ? `cg__${parent}__c` : fileObject.startsWith('cg__') ? 'cg__Parent__c' : 'Parent__c'
}

function conditionField(condition: unknown): string | undefined {
  if (Array.isArray(condition))
    return typeof condition[1] === 'string' ? condition[1].replace(/^\$/, '').toLowerCase() : undefined
  if (isObject(condition)) return Object.keys(condition)[0]?.toLowerCase()
  return undefined
}

/** S3Object (S-Drive tab) files have no parent record, so any parent id is accepted for them. */
function belongsTo(table: ObjectTable, record: SObjectRecord, parentId: string): boolean {
  if (/S3Object__c$/i.test(table.name)) return true
  return Object.entries(record).some(([field, value]) => field !== 'Id' && sameId(value, parentId))
}
