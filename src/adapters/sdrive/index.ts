/**
 * SDrive on top of SalesforceApi: the three-step upload (POST WIP records →
 * S3 form POST → PUT complete), cancel, and the SOQL reads around it.
 */
import type { Logger } from 'pino'
import type { SDriveConfig } from '../../config/schema.js'
import { isBridgeError } from '../../domain/errors.js'
import type { ExchangeSink } from '../../ports/exchange-log.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { SDrive } from '../../ports/sdrive.js'
import { proxyAgent } from '../proxy/http-agents.js'
import type { SDriveContext } from './context.js'
import { downloadUrls } from './download-links.js'
import { filesByIds, findRecords, rootFolders } from './find-files.js'
import { ensureFolder, moveToFolder } from './folders.js'
import { markSuperseded, removeFiles } from './replace-files.js'
import { checkUploadUrl } from './s3-check.js'
import { openS3Download } from './s3-download.js'
import { uploadToS3 } from './s3-upload.js'
import { cancelUpload, completeUpload, startUpload } from './upload.js'

export { parseCompleteAnswer } from './complete-result.js'
export { contentDisposition } from './content-disposition.js'
export { buildFormFields, parseUploadAnswer } from './upload-request.js'

export interface SDriveDeps {
  logger: Logger
  /** Support recording of the S3 side (the Salesforce side is the SalesforceApi's). */
  record?: ExchangeSink
}

export function createSDrive(sf: SalesforceApi, config: SDriveConfig, deps: SDriveDeps): SDrive {
  const ctx: SDriveContext = { sf, config, log: deps.logger.child({ component: 'sdrive' }) }
  const recorded = s3Recorder(deps.record)
  // sdrive.proxy, else HTTPS_PROXY / HTTP_PROXY unless NO_PROXY names the host.
  const agentFor = (url: string) => {
    const agent = proxyAgent(url, config.proxy)
    return agent ? { agent } : {}
  }
  return {
    // The upload protocol: POST WIP records → S3 form POST → PUT complete (or cancel).
    startUpload: (target, files, options) => startUpload(ctx, target, files, options),
    uploadToS3: (ticket, body, sizeBytes, contentType, options) =>
      recorded(
        'POST',
        config.s3UploadUrl,
        Object.fromEntries(ticket.formFields),
        uploadToS3({
          url: config.s3UploadUrl,
          fields: ticket.formFields,
          fileName: ticket.fileName,
          contentType,
          body,
          sizeBytes,
          idleTimeoutMs: config.uploadTimeoutMs,
          ...agentFor(config.s3UploadUrl),
          ...(options?.signal ? { signal: options.signal } : {}),
        }),
      ),
    completeUpload: (wipFileIds, versionIds, options) => completeUpload(ctx, wipFileIds, versionIds, options),
    cancelUpload: (target, wipFileIds, options) => cancelUpload(ctx, target, wipFileIds, options),

    // Reads.
    findFiles: (fileObject, parentField, parentIds, fileNames, options) =>
      findRecords(ctx, fileObject, parentField, parentIds, false, fileNames, options),
    findLatestFiles: (fileObject, parentField, parentIds, fileNames, options) =>
      findRecords(ctx, fileObject, parentField, parentIds, false, fileNames, {
        ...options,
        latestOnly: true,
      }),
    findWipFiles: (fileObject, parentField, parentIds, options) =>
      findRecords(ctx, fileObject, parentField, parentIds, true, undefined, options),
    filesByIds: (fileObject, parentField, ids, options) =>
      filesByIds(ctx, fileObject, parentField, ids, options),
    rootFolders: (fileObject, parentField, parentIds, name, options) =>
      rootFolders(ctx, fileObject, parentField, parentIds, name, options),

    // Folders.
    ensureFolder: (target, path, options) => ensureFolder(ctx, target, path, options),
    moveToFolder: (fileObject, fileIds, folderId, options) =>
      moveToFolder(ctx, fileObject, fileIds, folderId, options),

    // Downloads.
    downloadUrls: (files, options) => downloadUrls(ctx, files, options),
    openDownload: (url, options) =>
      recorded(
        'GET',
        url,
        undefined,
        openS3Download(
          url,
          config.uploadTimeoutMs,
          options?.signal,
          agentFor(url).agent,
          options?.offset ?? 0,
        ),
      ),
    checkUploadUrl: (options) =>
      checkUploadUrl(
        config.s3UploadUrl,
        config.uploadTimeoutMs,
        options?.signal,
        agentFor(config.s3UploadUrl).agent,
      ),

    // Earlier versions, per the replace policy.
    markSuperseded: (fileObject, ids, options) => markSuperseded(ctx, fileObject, ids, options),
    removeFiles: (fileObject, ids, options) => removeFiles(ctx, fileObject, ids, options),
  }
}

/**
 * Reports each S3 call to the recording sink with its outcome: the form
 * fields or URL, and what S3 answered (never the file bytes).
 */
function s3Recorder(record: ExchangeSink | undefined) {
  return <T>(method: string, url: string, requestBody: unknown, call: Promise<T>): Promise<T> => {
    if (!record) return call
    const started = Date.now()
    const base = { at: new Date(started).toISOString(), service: 's3' as const, method, url, requestBody }
    return call.then(
      (answer) => {
        const { stream: _stream, ...summary } = answer as Record<string, unknown>
        // The S3 helpers settle on any 2xx without passing the exact status on.
        record({
          ...base,
          status: null,
          durationMs: Date.now() - started,
          responseBody: { ok: true, ...summary },
        })
        return answer
      },
      (error: unknown) => {
        const status = isBridgeError(error) ? error.details?.status : undefined
        record({
          ...base,
          status: typeof status === 'number' ? status : null,
          durationMs: Date.now() - started,
          error: error instanceof Error ? error.message : String(error),
        })
        throw error
      },
    )
  }
}
