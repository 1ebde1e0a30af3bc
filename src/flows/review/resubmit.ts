/**
 * The review loop's incoming half: a file arriving on an inbound flow that
 * answers a rejection — its name carries the correlation id, or it is named
 * like the returned or the original file — goes to the same record as a new
 * version of the rejected file (or its replacement), and the review records
 * the resubmission once S-Drive has confirmed it.
 */
import type { InboundFlow } from '../../config/schema.js'
import { correlationIdIn } from '../../domain/correlation.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { SDrive } from '../../ports/sdrive.js'
import type { ItemRecord, ItemTarget, ReviewRecord, Store } from '../../ports/store.js'
import type { RunEvents } from '../../runs/events.js'
import { updateReviewFields } from './review-fields.js'

const OPEN_STATES: ReviewRecord['state'][] = ['rejected', 'resubmitted']

/** The S-Drive file a resubmission supersedes: the latest one of the chain. */
function latestFileId(review: ReviewRecord): string {
  const answered = review.resubmissions.filter((r) => r.fileId !== null)
  return (answered[answered.length - 1]?.fileId as string | undefined) ?? review.fileId
}

/**
 * For each file that answers a rejection of this flow, the target it goes
 * to. Reads the store once per correlation id named and once for all names,
 * and S-Drive once per file object (for the folder the original is in).
 */
export async function correlateResubmissions<F extends { name: string }>(
  flow: InboundFlow,
  files: readonly F[],
  store: Store,
  sdrive: SDrive,
  signal?: AbortSignal,
): Promise<Map<F, { review: ReviewRecord; target: ItemTarget }>> {
  const found = new Map<F, ReviewRecord>()
  if (!flow.review || files.length === 0) return new Map()

  const byId = new Map<string, ReviewRecord | null>()
  for (const file of files) {
    const id = correlationIdIn(file.name)
    if (id === null) continue
    if (!byId.has(id)) byId.set(id, await store.getReview(id))
    const review = byId.get(id)
    if (review && review.flow === flow.name && OPEN_STATES.includes(review.state)) found.set(file, review)
  }
  const rest = files.filter((f) => !found.has(f))
  if (rest.length > 0) {
    const reviews = await store.findReviews({
      flow: flow.name,
      states: OPEN_STATES,
      names: [...new Set(rest.map((f) => f.name))],
    })
    for (const file of rest) {
      // The newest rejection of that name is the one being answered.
      const matching = reviews.filter((r) => r.returnedName === file.name || r.originalName === file.name)
      const review = matching[matching.length - 1]
      if (review) found.set(file, review)
    }
  }

  // Where the superseded file lives, so the new version lands in the same folder.
  const folders = new Map<string, string | null>()
  const groups = new Map<string, ReviewRecord[]>()
  for (const review of found.values()) {
    const key = `${review.fileObject}\u0000${review.parentField}`
    groups.set(key, [...(groups.get(key) ?? []), review])
  }
  for (const group of groups.values()) {
    const { fileObject, parentField } = group[0] as ReviewRecord
    const ids = [...new Set(group.map(latestFileId))]
    const files = await sdrive.filesByIds(fileObject, parentField, ids, signal ? { signal } : {})
    for (const f of files) folders.set(f.id.slice(0, 15), f.folderId)
  }

  const result = new Map<F, { review: ReviewRecord; target: ItemTarget }>()
  for (const [file, review] of found) {
    const latest = latestFileId(review)
    const folderId = folders.get(latest.slice(0, 15)) ?? null
    const target: ItemTarget = {
      object: review.object ?? '',
      recordId: review.recordId,
      fileObject: review.fileObject,
      parentField: review.parentField,
      folder: null,
      description: flow.target.description ?? null,
      sdriveName: review.originalName,
      correlationId: review.correlationId,
      ...(flow.review.resubmission === 'replace' ? { replaceIds: [latest] } : { supersedeIds: [latest] }),
      ...(folderId ? { folderId, folderApplied: false } : {}),
    }
    result.set(file, { review, target })
  }
  return result
}

/**
 * Records a confirmed resubmission on its review (once per item) and sets
 * the record's review fields. Safe to repeat after a crash: the item is
 * only added to the chain if it is not there yet.
 */
export async function recordResubmission(
  deps: { store: Store; sf: SalesforceApi; events: Pick<RunEvents, 'emit'>; now: number },
  flow: InboundFlow,
  item: ItemRecord,
  signal?: AbortSignal,
): Promise<void> {
  const correlationId = item.target?.correlationId
  if (!correlationId) return
  const review = await deps.store.getReview(correlationId)
  if (!review) return
  const already = review.resubmissions.some((r) => r.itemId === item.id)
  const updated = already
    ? review
    : await deps.store.updateReview(correlationId, {
        state: 'resubmitted',
        resubmissions: [
          ...review.resubmissions,
          {
            runId: item.runId,
            itemId: item.id,
            fileName: item.name,
            fileId: item.sdriveFileId,
            at: new Date(deps.now).toISOString(),
          },
        ],
      })
  await updateReviewFields(deps.sf, updated, flow.review?.onResubmitted, deps.now, signal)
  if (!already) deps.events.emit({ type: 'review', flow: flow.name, correlationId, step: 'resubmitted' })
}
