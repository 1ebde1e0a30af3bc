/**
 * The return stage: the rejected file goes back to the partner's drop zone
 * under its returned name, with a note for people (`.rejected.txt`) and one
 * for machines (`.rejected.json`) beside it.
 */
import { posix } from 'node:path'
import type { Readable } from 'node:stream'
import { BridgeError } from '../../domain/errors.js'
import { sanitizeRemotePath } from '../../domain/remote-names.js'
import { renderTemplate } from '../../domain/templates.js'
import type { ReviewRecord } from '../../ports/store.js'
import { deliverFile, writeTextFile } from '../../transfer/remote-delivery.js'
import type { ReviewDeps } from './deps.js'
import { reviewTemplateValues } from './review-fields.js'
import type { ReviewFlow } from './review-flow.js'

type ReturnDeps = Pick<ReviewDeps, 'endpoints' | 'remotes' | 'sdrive' | 'clock'>

function dropZoneOf(
  flow: ReviewFlow,
  review: ReviewRecord,
  now: number,
): { endpoint: string; directory: string } {
  const endpoint = flow.review.dropZone.endpoint ?? flow.source.endpoint
  const directory = sanitizeRemotePath(
    renderTemplate(flow.review.dropZone.directory, {
      ...reviewTemplateValues(review, now),
      flow: flow.name,
    }),
  )
  return { endpoint, directory }
}

function noteText(review: ReviewRecord, at: string): string {
  return [
    `The file "${review.originalName}" was returned to you for correction.`,
    '',
    `Reason (${review.reasonCode}): ${review.reason}`,
    '',
    `Please correct the file and upload it again under the name "${review.returnedName}"`,
    `(or any name that still contains ${review.correlationId}), so it replaces the rejected one.`,
    '',
    `Correlation id: ${review.correlationId}`,
    `Returned at: ${at}`,
    '',
  ].join('\n')
}

function machineNoteText(
  review: ReviewRecord,
  delivered: { sha256: string; bytes: number },
  at: string,
): string {
  const machine = {
    correlationId: review.correlationId,
    reasonCode: review.reasonCode,
    reason: review.reason,
    originalName: review.originalName,
    returnedName: review.returnedName,
    recordId: review.recordId,
    fileId: review.fileId,
    sha256: delivered.sha256,
    size: delivered.bytes,
    time: at,
    ...(review.notify ? { notify: review.notify } : {}),
  }
  return `${JSON.stringify(machine, null, 2)}\n`
}

/** The rejected file's bytes from S-Drive, with their size (from the download or the file's record). */
async function openRejectedFile(
  deps: Pick<ReviewDeps, 'sdrive'>,
  review: ReviewRecord,
  signal: AbortSignal,
): Promise<{ stream: Readable; size: number }> {
  const [url] = await deps.sdrive.downloadUrls([{ id: review.fileId, parentId: review.recordId }], {
    signal,
  })
  const download = await deps.sdrive.openDownload(url as string, { signal })
  const sizes = await deps.sdrive.filesByIds(review.fileObject, review.parentField, [review.fileId], {
    signal,
  })
  const size = download.size ?? sizes[0]?.sizeBytes ?? null
  if (size === null) {
    download.stream.destroy()
    throw new BridgeError('SDRIVE_ERROR', `the size of S-Drive file ${review.fileId} is unknown`)
  }
  return { stream: download.stream, size }
}

/** Writes the file, the note and the JSON (last: its presence says the rest is there); returns the file's path. */
export async function returnToPartner(
  deps: ReturnDeps,
  flow: ReviewFlow,
  review: ReviewRecord,
  signal: AbortSignal,
): Promise<string> {
  const { endpoint: endpointName, directory } = dropZoneOf(flow, review, deps.clock.now())
  const endpoint = deps.endpoints.get(endpointName)
  const remote = deps.remotes.get(endpointName)
  const settings = {
    atomic: true,
    tempSuffix: '.part',
    supportsRename: endpoint?.supportsRename ?? true,
    signal,
  }
  const file = await openRejectedFile(deps, review, signal)
  const delivered = await deliverFile(remote, {
    ...settings,
    directory,
    fileName: review.returnedName,
    source: file.stream,
    size: file.size,
    existing: 'overwrite',
    tag: review.correlationId,
  })
  const at = new Date(deps.clock.now()).toISOString()
  const beside = (suffix: string) => posix.join(directory, `${review.returnedName}${suffix}`)
  await writeTextFile(remote, beside('.rejected.txt'), noteText(review, at), settings)
  await writeTextFile(remote, beside('.rejected.json'), machineNoteText(review, delivered, at), settings)
  return delivered.path
}
