/**
 * The review loop's outgoing half: a rejected S-Drive file goes back to the
 * partner's drop zone under a name that carries its correlation id, with a
 * note for people and a `.rejected.json` for machines beside it, and the
 * record's review fields are set. A rejection is accepted durably first
 * (the caller gets 202 at once) and written in the background, retried with
 * backoff, and resumed after a restart. The incoming half (the corrected
 * file) is the inbound engine's: see resubmit.ts.
 *
 * Stages: reject (record it) → return (write it to the drop zone, set the
 * review fields) → resubmit (the inbound flow records the answer).
 */
import { type BridgeError, toBridgeError } from '../../domain/errors.js'
import type { ReviewRecord } from '../../ports/store.js'
import { withRetries } from '../../runs/retry.js'
import { createTaskSet } from '../../runs/task-set.js'
import type { ReviewDeps } from './deps.js'
import { type RejectionRequest, recordRejection } from './reject.js'
import { returnToPartner } from './return.js'
import { updateReviewFields } from './review-fields.js'
import { type ReviewFlow, reviewFlowOf } from './review-flow.js'

export interface ReviewEngine {
  /** Records the rejection (once per flow and file) and starts returning the file; `created` false for a repeat. */
  reject(flow: string, request: RejectionRequest): Promise<{ review: ReviewRecord; created: boolean }>
  get(correlationId: string): Promise<ReviewRecord | null>
  list(flow: string): Promise<ReviewRecord[]>
  /** Resumes rejections not yet written (call once at start-up). */
  recover(): Promise<void>
  settled(correlationId: string): Promise<void>
  close(options?: { graceMs?: number }): Promise<void>
}

/** One try: the file back to the partner (unless it already is), then the review fields; the review is then rejected. */
async function returnOnce(
  deps: ReviewDeps,
  flow: ReviewFlow,
  review: ReviewRecord,
  signal: AbortSignal,
): Promise<string> {
  const path = review.returnedPath ?? (await returnToPartner(deps, flow, review, signal))
  const current =
    review.returnedPath === null
      ? await deps.store.updateReview(review.correlationId, { returnedPath: path })
      : review
  await updateReviewFields(deps.sf, current, flow.review.onRejected, deps.clock.now(), signal)
  await deps.store.updateReview(review.correlationId, {
    state: 'rejected',
    error: null,
    attempts: current.attempts + 1,
  })
  return path
}

async function recordFailure(
  deps: ReviewDeps,
  flow: ReviewFlow,
  review: ReviewRecord,
  e: BridgeError,
): Promise<void> {
  const { correlationId } = review
  deps.events.emit({ type: 'fault', flow: flow.name, code: e.code })
  await deps.store.updateReview(correlationId, {
    state: 'failed',
    attempts: review.attempts + 1,
    error: { code: e.code, message: e.message },
  })
  deps.events.emit({ type: 'review', flow: flow.name, correlationId, step: 'failed' })
  deps.logger.error({ flow: flow.name, correlationId, code: e.code, err: e.message }, 'rejection failed')
}

/** Returns one rejected file, retrying with the flow's backoff; a permanent or exhausted fault fails it. */
async function driveRejection(deps: ReviewDeps, correlationId: string, signal: AbortSignal): Promise<void> {
  const { store, logger, events } = deps
  const found = await store.getReview(correlationId)
  if (found?.state !== 'rejecting') return
  let review = found
  const flow = reviewFlowOf(deps.flows, review.flow)
  try {
    const path = await withRetries(() => returnOnce(deps, flow, review, signal), {
      policy: flow.retry,
      clock: deps.clock,
      signal,
      attemptsUsed: review.attempts,
      onRetry: async (e, attempts) => {
        events.emit({ type: 'fault', flow: flow.name, code: e.code })
        review = await store.updateReview(correlationId, {
          attempts,
          error: { code: e.code, message: e.message },
        })
        logger.warn({ flow: flow.name, correlationId, code: e.code, attempts }, 'rejection will be retried')
      },
    })
    events.emit({ type: 'review', flow: flow.name, correlationId, step: 'rejected' })
    logger.info({ flow: flow.name, correlationId, path }, 'rejected file returned to the partner')
  } catch (error) {
    if (signal.aborted) return
    await recordFailure(deps, flow, review, toBridgeError(error))
  }
}

export function createReviewEngine(deps: ReviewDeps): ReviewEngine {
  const { store, logger } = deps
  const tasks = createTaskSet()

  function launch(correlationId: string): void {
    tasks.start([correlationId], () =>
      driveRejection(deps, correlationId, tasks.shutdown).catch((error) =>
        logger.error(
          { correlationId, err: toBridgeError(error).message },
          'rejection driver stopped unexpectedly',
        ),
      ),
    )
  }

  return {
    async reject(flowName, request) {
      const flow = reviewFlowOf(deps.flows, flowName)
      const result = await recordRejection(deps, flow, request, tasks.shutdown)
      if (result.review.state === 'rejecting') launch(result.review.correlationId)
      return result
    },

    get: (correlationId) => store.getReview(correlationId),

    list: async (flowName) => {
      reviewFlowOf(deps.flows, flowName)
      return store.findReviews({ flow: flowName })
    },

    async recover() {
      for (const review of await store.findReviews({ states: ['rejecting'] })) {
        if (!deps.flows.get(review.flow)?.review) continue
        launch(review.correlationId)
      }
    },

    settled: (correlationId) => tasks.settled(correlationId),

    close: (options = {}) => tasks.close(options.graceMs ?? 0),
  }
}
