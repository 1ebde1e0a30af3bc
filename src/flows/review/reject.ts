/**
 * The reject stage: finds the S-Drive file in the flow's file objects and
 * records the rejection durably (once per flow and file), under the name
 * the file will be returned as. Returning it is the next stage's job.
 */
import type { InboundFlow } from '../../config/schema.js'
import { nameParts, newCorrelationId } from '../../domain/correlation.js'
import { BridgeError } from '../../domain/errors.js'
import { sanitizeRemoteSegment } from '../../domain/remote-names.js'
import { renderTemplate } from '../../domain/templates.js'
import type { SDriveFile } from '../../ports/sdrive.js'
import type { NewReview, ReviewRecord } from '../../ports/store.js'
import type { ReviewDeps } from './deps.js'
import { reviewObjectOf } from './review-fields.js'
import type { ReviewFlow } from './review-flow.js'

export interface RejectionRequest {
  fileId: string
  reasonCode: string
  reason: string
  notify?: Record<string, unknown>
}

type FoundFile = SDriveFile & { fileObject: string; parentField: string }

/** Distinct file object / parent field pairs the flow's files may live in. */
function fileObjectsOf(flow: InboundFlow): { fileObject: string; parentField: string }[] {
  const pairs = new Map<string, { fileObject: string; parentField: string }>()
  const add = (fileObject: string, parentField: string) =>
    pairs.set(`${fileObject}\u0000${parentField}`, { fileObject, parentField })
  add(flow.target.fileObject, flow.target.parentField)
  for (const rule of flow.match) {
    add(
      rule.target?.fileObject ?? flow.target.fileObject,
      rule.target?.parentField ?? flow.target.parentField,
    )
  }
  return [...pairs.values()]
}

async function findFile(
  deps: Pick<ReviewDeps, 'sdrive'>,
  flow: InboundFlow,
  fileId: string,
  signal: AbortSignal,
): Promise<FoundFile> {
  for (const { fileObject, parentField } of fileObjectsOf(flow)) {
    const [file] = await deps.sdrive.filesByIds(fileObject, parentField, [fileId], { signal })
    if (file) return { ...file, fileObject, parentField }
  }
  throw new BridgeError(
    'NOT_FOUND',
    `body.fileId: S-Drive file ${fileId} does not exist in flow "${flow.name}"'s file objects`,
    {
      details: { field: 'body.fileId', fileId },
    },
  )
}

function returnedNameOf(flow: ReviewFlow, fileName: string, correlationId: string): string {
  const { stem, ext } = nameParts(fileName)
  const rendered = renderTemplate(flow.review.dropZone.fileName, {
    'file.name': fileName,
    'file.stem': stem,
    'file.ext': ext,
    correlationId,
  })
  return sanitizeRemoteSegment(rendered)
}

/** The rejection a file that is itself a resubmission answered: its chain continues. */
async function rejectionAnsweredBy(
  deps: Pick<ReviewDeps, 'store'>,
  flow: InboundFlow,
  file: FoundFile,
): Promise<ReviewRecord | undefined> {
  const reviews = await deps.store.findReviews({ flow: flow.name, names: [file.fileName] })
  return reviews.find((r) =>
    r.resubmissions.some((s) => s.fileId !== null && s.fileId.slice(0, 15) === file.id.slice(0, 15)),
  )
}

/** Records the rejection, or finds the one already recorded; one that failed is armed to be tried again. */
export async function recordRejection(
  deps: Pick<ReviewDeps, 'sdrive' | 'store' | 'outbox'>,
  flow: ReviewFlow,
  request: RejectionRequest,
  signal: AbortSignal,
): Promise<{ review: ReviewRecord; created: boolean }> {
  deps.outbox?.checkRejectionNotify(request.notify)
  const file = await findFile(deps, flow, request.fileId, signal)
  const correlationId = newCorrelationId()
  const previous = await rejectionAnsweredBy(deps, flow, file)
  const input: NewReview = {
    correlationId,
    flow: flow.name,
    fileId: file.id,
    fileObject: file.fileObject,
    parentField: file.parentField,
    recordId: file.parentId,
    object: reviewObjectOf(flow),
    originalName: file.fileName,
    returnedName: returnedNameOf(flow, file.fileName, correlationId),
    reasonCode: request.reasonCode,
    reason: request.reason,
    notify: request.notify ?? null,
    previousCorrelationId: previous?.correlationId ?? null,
  }
  // The rejection.created messages are written with the rejection, and only when it is new.
  const result = await deps.store.createReview(input, deps.outbox?.forRejection(input) ?? [])
  let review = result.review
  // Asking again for a rejection that failed tries it again.
  if (result.outcome === 'existing' && review.state === 'failed') {
    review = await deps.store.updateReview(review.correlationId, {
      state: 'rejecting',
      attempts: 0,
      error: null,
    })
  }
  return { review, created: result.outcome === 'created' }
}
