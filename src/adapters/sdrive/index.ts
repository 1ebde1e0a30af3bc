/**
 * SDrive on top of SalesforceApi: the three-step upload (POST WIP records →
 * S3 form POST → PUT complete), cancel, and the SOQL reads around it.
 */
import type { Readable } from 'node:stream'
import type { Logger } from 'pino'
import type { SDriveConfig } from '../../config/schema.js'
import { BridgeError, isBridgeError } from '../../domain/errors.js'
import { soqlIdentifier } from '../../domain/soql.js'
import type { SalesforceApi, SaveResult } from '../../ports/salesforce.js'
import type {
  CompleteResult,
  SDrive,
  SDriveCallOptions,
  SDriveFile,
  SDriveFileSpec,
  SDriveTarget,
  UploadTicket,
} from '../../ports/sdrive.js'
import { parseCompleteAnswer } from './complete-result.js'
import { sdriveError } from './errors.js'
import {
  fieldPrefix,
  fileFields,
  fileQueries,
  filesByIdQueries,
  folderQuery,
  rootFolderQueries,
  toSDriveFile,
} from './queries.js'
import { openS3Download } from './s3-download.js'
import { uploadToS3 } from './s3-upload.js'
import { buildUploadRequest, matchAnswers, parseUploadAnswer, toTicket } from './upload-request.js'

export { parseCompleteAnswer } from './complete-result.js'
export { contentDisposition } from './content-disposition.js'
export { buildFormFields, parseUploadAnswer } from './upload-request.js'

export interface SDriveDeps {
  logger: Logger
}

/** Files per POST /files call; keeps each Apex transaction well inside its limits. */
const START_CHUNK = 100
/** Ids per GET /files call: two id lists of this length stay well inside the URL limit. */
const DOWNLOAD_CHUNK = 100

/** `{"fileUrls": [...]}` as documented; a bare array is accepted too. */
function parseFileUrls(answer: unknown): string[] {
  const list = Array.isArray(answer) ? answer : (answer as { fileUrls?: unknown } | null)?.fileUrls
  if (!Array.isArray(list) || !list.every((u) => typeof u === 'string')) {
    throw new BridgeError('SDRIVE_ERROR', 'S-Drive GET /files answered without fileUrls')
  }
  return list as string[]
}

/** Ids per DELETE /files call, so the query string stays short. */
const CANCEL_CHUNK = 100

/** Delete errors meaning the record is already gone, which is what cancel and remove want anyway. */
const goneCodes = new Set([
  'ENTITY_IS_DELETED',
  'INVALID_CROSS_REFERENCE_KEY',
  'NOT_FOUND',
  'INVALID_ID_FIELD',
])

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

function isGone(result: SaveResult): boolean {
  return (
    result.errors.length > 0 &&
    result.errors.every((e) => e.statusCode !== undefined && goneCodes.has(e.statusCode))
  )
}

function failedSaves(results: SaveResult[], ignoreGone: boolean): SaveResult[] {
  return results.filter((r) => !r.success && !(ignoreGone && isGone(r)))
}

/** Errors that a different route (record delete instead of S-Drive DELETE) will not fix. */
function stopsFallback(error: unknown): boolean {
  return (
    isBridgeError(error) &&
    ['CANCELLED', 'TIMEOUT', 'API_LIMIT_EXCEEDED', 'SALESFORCE_AUTH_FAILED'].includes(error.code)
  )
}

export function createSDrive(sf: SalesforceApi, config: SDriveConfig, deps: SDriveDeps): SDrive {
  const log = deps.logger.child({ component: 'sdrive' })
  const filesPath = config.filesPath

  const apex = async <T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body: unknown,
    what: string,
    options?: SDriveCallOptions,
  ): Promise<T> => {
    try {
      return await sf.apex<T>(method, path, body, options)
    } catch (error) {
      throw sdriveError(error, what)
    }
  }

  const encodeIds = (ids: readonly string[]) =>
    encodeURIComponent(config.idListEncoding === 'json' ? JSON.stringify(ids) : ids.join(','))

  const findRecords = async (
    fileObject: string,
    parentField: string,
    parentIds: string[],
    wip: boolean,
    fileNames: string[] | undefined,
    options?: SDriveCallOptions,
  ): Promise<SDriveFile[]> => {
    const out: SDriveFile[] = []
    for (const soql of fileQueries(fileObject, parentField, parentIds, wip, fileNames)) {
      const records = await sf.query(soql, options)
      for (const record of records) out.push(toSDriveFile(record, fileObject, parentField))
    }
    return out
  }

  return {
    async startUpload(
      target: SDriveTarget,
      files: SDriveFileSpec[],
      options?: SDriveCallOptions,
    ): Promise<UploadTicket[]> {
      soqlIdentifier(target.fileObject)
      soqlIdentifier(target.parentField)
      const tickets: UploadTicket[] = []
      for (const part of chunk(files, START_CHUNK)) {
        const answer = await apex<unknown>(
          'POST',
          filesPath,
          buildUploadRequest(target, part),
          'start upload',
          options,
        )
        const infos = matchAnswers(part, parseUploadAnswer(answer))
        part.forEach((spec, i) => {
          tickets.push(toTicket(infos[i] as (typeof infos)[number], spec))
        })
      }
      log.debug({ parentId: target.parentId, files: files.length }, 'S-Drive upload started')
      return tickets
    },

    uploadToS3(
      ticket: UploadTicket,
      body: Readable,
      sizeBytes: number,
      contentType: string,
      options?: SDriveCallOptions,
    ): Promise<{ versionId: string | null; etag: string | null }> {
      return uploadToS3({
        url: config.s3UploadUrl,
        fields: ticket.formFields,
        fileName: ticket.fileName,
        contentType,
        body,
        sizeBytes,
        idleTimeoutMs: config.uploadTimeoutMs,
        ...(options?.signal ? { signal: options.signal } : {}),
      })
    },

    async completeUpload(
      wipFileIds: string[],
      versionIds: (string | null)[],
      options?: SDriveCallOptions,
    ): Promise<CompleteResult[]> {
      if (wipFileIds.length === 0) return []
      if (versionIds.length !== 0 && versionIds.length !== wipFileIds.length) {
        throw new BridgeError('VALIDATION_FAILED', 'completeUpload needs one version id (or null) per wip id')
      }
      const body: { wipIds: string[]; versionIds?: string[] } = { wipIds: wipFileIds }
      // S-Drive pairs the two lists by position, so they go together or not at all.
      if (versionIds.some((v) => v !== null)) body.versionIds = versionIds.map((v) => v ?? '')
      const answer = await apex<unknown>('PUT', filesPath, body, 'complete upload', options)
      return parseCompleteAnswer(wipFileIds, answer)
    },

    async cancelUpload(
      target: SDriveTarget,
      wipFileIds: string[],
      options?: SDriveCallOptions,
    ): Promise<void> {
      if (wipFileIds.length === 0) return
      for (const part of chunk(wipFileIds, CANCEL_CHUNK)) {
        const path = `${filesPath}?objectId=${encodeURIComponent(target.parentId)}&fileObjectId=${encodeIds(part)}`
        try {
          await apex<unknown>('DELETE', path, undefined, 'cancel upload', options)
          continue
        } catch (error) {
          if (stopsFallback(error)) throw error
          log.warn(
            {
              code: isBridgeError(error) ? error.code : undefined,
              status: (error as BridgeError).details?.status,
            },
            'S-Drive DELETE /files failed; deleting the WIP records directly',
          )
        }
        const results = await sf.deleteRecords(part, options)
        const failed = failedSaves(results, true)
        if (failed.length > 0) {
          throw new BridgeError('SDRIVE_ERROR', `Could not remove ${failed.length} WIP record(s)`, {
            details: { failures: failed.map((r) => ({ id: r.id, errors: r.errors })) },
          })
        }
      }
    },

    findFiles(fileObject, parentField, parentIds, fileNames, options) {
      return findRecords(fileObject, parentField, parentIds, false, fileNames, options)
    },

    findWipFiles(fileObject, parentField, parentIds, options) {
      return findRecords(fileObject, parentField, parentIds, true, undefined, options)
    },

    async ensureFolder(target: SDriveTarget, path: string[], options?: SDriveCallOptions): Promise<string> {
      if (path.length === 0)
        throw new BridgeError('VALIDATION_FAILED', 'a folder path needs at least one name')
      const f = fileFields(target.fileObject, target.parentField)
      const rows = (
        await Promise.all(
          folderQuery(target.fileObject, target.parentField, target.parentId, path).map((q) =>
            sf.query(q, options),
          ),
        )
      ).flat()
      let parentFolder: string | null = null
      for (const name of path) {
        const existing = rows.find(
          (r) =>
            r[f.fileName] === name && ((r[f.folder] as string | null | undefined) || null) === parentFolder,
        )
        if (existing) {
          parentFolder = String(existing.Id)
          continue
        }
        const [created] = await sf.createRecords(
          target.fileObject,
          [
            {
              [target.parentField]: target.parentId,
              [f.fileName]: name,
              [f.contentType]: 'Folder',
              [f.folder]: parentFolder,
              [f.wip]: false,
            },
          ],
          options,
        )
        if (!created?.success || !created.id) {
          throw new BridgeError('SDRIVE_ERROR', `could not create S-Drive folder "${name}"`, {
            details: { errors: created?.errors ?? [] },
          })
        }
        parentFolder = created.id
      }
      return parentFolder as string
    },

    async moveToFolder(fileObject: string, fileIds: string[], folderId: string, options?: SDriveCallOptions) {
      if (fileIds.length === 0) return
      const field = `${fieldPrefix(fileObject)}Parent_Folder_Id__c`
      const results = await sf.updateRecords(
        fileObject,
        fileIds.map((Id) => ({ Id, [field]: folderId })),
        options,
      )
      const failed = failedSaves(results, false)
      if (failed.length > 0) {
        throw new BridgeError(
          'SDRIVE_ERROR',
          `Could not move ${failed.length} file(s) into the S-Drive folder`,
          {
            details: { failures: failed.map((r) => ({ id: r.id, errors: r.errors })) },
          },
        )
      }
    },

    async filesByIds(fileObject: string, parentField: string, ids: string[], options?: SDriveCallOptions) {
      if (ids.length === 0) return []
      const rows = await Promise.all(
        filesByIdQueries(fileObject, parentField, ids).map((q) => sf.query(q, options)),
      )
      return rows.flat().map((r) => toSDriveFile(r, fileObject, parentField))
    },

    async rootFolders(
      fileObject: string,
      parentField: string,
      parentIds: string[],
      name: string,
      options?: SDriveCallOptions,
    ) {
      if (parentIds.length === 0) return []
      const rows = await Promise.all(
        rootFolderQueries(fileObject, parentField, parentIds, name).map((q) => sf.query(q, options)),
      )
      return rows
        .flat()
        .map((r) => toSDriveFile(r, fileObject, parentField))
        .filter((f) => f.folderId === null)
    },

    async downloadUrls(
      files: { id: string; parentId: string }[],
      options?: SDriveCallOptions,
    ): Promise<string[]> {
      const urls: string[] = []
      for (const part of chunk(files, DOWNLOAD_CHUNK)) {
        const query = `fileObjectId=${encodeIds(part.map((f) => f.id))}&parentId=${encodeIds(part.map((f) => f.parentId))}&timeValue=${config.linkLifetimeSeconds}`
        const answer = await sf
          .apex<unknown>('GET', `${filesPath}?${query}`, undefined, options)
          .catch((error: unknown) => {
            throw sdriveError(error, 'GET /files')
          })
        const list = parseFileUrls(answer)
        if (list.length !== part.length) {
          throw new BridgeError(
            'SDRIVE_ERROR',
            `S-Drive returned ${list.length} download links for ${part.length} files`,
          )
        }
        urls.push(...list)
      }
      return urls
    },

    openDownload(url: string, options?: SDriveCallOptions) {
      return openS3Download(url, config.uploadTimeoutMs, options?.signal)
    },

    async markSuperseded(fileObject: string, ids: string[], options?: SDriveCallOptions): Promise<void> {
      if (ids.length === 0) return
      soqlIdentifier(fileObject)
      const flag = `${fieldPrefix(fileObject)}Is_Latest_Version__c`
      const failed = failedSaves(
        await sf.updateRecords(
          fileObject,
          ids.map((Id) => ({ Id, [flag]: false })),
          options,
        ),
        false,
      )
      if (failed.length > 0) {
        throw new BridgeError(
          'SDRIVE_ERROR',
          `Could not mark ${failed.length} S-Drive file(s) as superseded`,
          {
            details: { failures: failed.map((r) => ({ id: r.id, errors: r.errors })) },
          },
        )
      }
    },

    async removeFiles(fileObject: string, ids: string[], options?: SDriveCallOptions): Promise<void> {
      if (ids.length === 0) return
      soqlIdentifier(fileObject)
      let failed: SaveResult[]
      if (config.replaceMode === 'softDelete') {
        const flag = `${fieldPrefix(fileObject)}Is_Deleted__c`
        const results = await sf.updateRecords(
          fileObject,
          ids.map((Id) => ({ Id, [flag]: true })),
          options,
        )
        failed = failedSaves(results, false)
      } else {
        failed = failedSaves(await sf.deleteRecords(ids, options), true)
      }
      if (failed.length > 0) {
        throw new BridgeError('SDRIVE_ERROR', `Could not remove ${failed.length} S-Drive file(s)`, {
          details: { failures: failed.map((r) => ({ id: r.id, errors: r.errors })) },
        })
      }
    },
  }
}
