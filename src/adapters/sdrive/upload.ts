/** The S-Drive upload protocol around the S3 POST: start (WIP records), complete, cancel. */
import { BridgeError, isBridgeError } from '../../domain/errors.js'
import { soqlIdentifier } from '../../domain/soql.js'
import type {
  CompleteResult,
  SDriveCallOptions,
  SDriveFileSpec,
  SDriveTarget,
  UploadTicket,
} from '../../ports/sdrive.js'
import { parseCompleteAnswer } from './complete-result.js'
import { callApex, chunk, encodeIds, type SDriveContext } from './context.js'
import { failedSaves, failureDetails } from './save-results.js'
import { buildUploadRequest, matchAnswers, parseUploadAnswer, toTicket } from './upload-request.js'

/** Files per POST /files call; keeps each Apex transaction well inside its limits. */
const START_CHUNK = 100
/** Ids per DELETE /files call, so the query string stays short. */
const CANCEL_CHUNK = 100

/** Errors that a different route (record delete instead of S-Drive DELETE) will not fix. */
function stopsFallback(error: unknown): boolean {
  return (
    isBridgeError(error) &&
    ['CANCELLED', 'TIMEOUT', 'API_LIMIT_EXCEEDED', 'SALESFORCE_AUTH_FAILED'].includes(error.code)
  )
}

export async function startUpload(
  ctx: SDriveContext,
  target: SDriveTarget,
  files: SDriveFileSpec[],
  options?: SDriveCallOptions,
): Promise<UploadTicket[]> {
  soqlIdentifier(target.fileObject)
  soqlIdentifier(target.parentField)
  const tickets: UploadTicket[] = []
  for (const part of chunk(files, START_CHUNK)) {
    const answer = await callApex<unknown>(
      ctx,
      'POST',
      ctx.config.filesPath,
      buildUploadRequest(target, part),
      'start upload',
      options,
    )
    const infos = matchAnswers(part, parseUploadAnswer(answer))
    part.forEach((spec, i) => {
      tickets.push(toTicket(infos[i] as (typeof infos)[number], spec))
    })
  }
  ctx.log.debug({ parentId: target.parentId, files: files.length }, 'S-Drive upload started')
  return tickets
}

export async function completeUpload(
  ctx: SDriveContext,
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
  const answer = await callApex<unknown>(ctx, 'PUT', ctx.config.filesPath, body, 'complete upload', options)
  return parseCompleteAnswer(wipFileIds, answer)
}

export async function cancelUpload(
  ctx: SDriveContext,
  target: SDriveTarget,
  wipFileIds: string[],
  options?: SDriveCallOptions,
): Promise<void> {
  if (wipFileIds.length === 0) return
  for (const part of chunk(wipFileIds, CANCEL_CHUNK)) {
    const path = `${ctx.config.filesPath}?objectId=${encodeURIComponent(target.parentId)}&fileObjectId=${encodeIds(ctx, part)}`
    try {
      await callApex<unknown>(ctx, 'DELETE', path, undefined, 'cancel upload', options)
      continue
    } catch (error) {
      if (stopsFallback(error)) throw error
      ctx.log.warn(
        {
          code: isBridgeError(error) ? error.code : undefined,
          status: (error as BridgeError).details?.status,
        },
        'S-Drive DELETE /files failed; deleting the WIP records directly',
      )
    }
    const failed = failedSaves(await ctx.sf.deleteRecords(part, options), true)
    if (failed.length > 0) {
      throw new BridgeError('SDRIVE_ERROR', `Could not remove ${failed.length} WIP record(s)`, {
        details: failureDetails(failed),
      })
    }
  }
}
