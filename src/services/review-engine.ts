/**
 * The review loop's outgoing half: a rejected S-Drive file goes back to the
 * partner's drop zone under a name that carries its correlation id, with a
 * note for people and a `.rejected.json` for machines beside it, and the
 * record's review fields are set. A rejection is accepted durably first
 * (the caller gets 202 at once) and written in the background, retried with
 * backoff, and resumed after a restart. The incoming half (the corrected
 * file) is the inbound engine's: see resubmissions.ts.
 */
import { posix } from 'node:path'
import type { Logger } from 'pino'
import type { EndpointConfig, InboundFlow, ReviewConfig } from '../config/schema.js'
import { backoffDelay } from '../domain/backoff.js'
import { nameParts, newCorrelationId } from '../domain/correlation.js'
import { BridgeError, isTransient, toBridgeError } from '../domain/errors.js'
import { sanitizeRemotePath, sanitizeRemoteSegment } from '../domain/remote-names.js'
import { renderTemplate } from '../domain/templates.js'
import type { Clock } from '../ports/clock.js'
import type { BridgeMetrics } from '../ports/metrics.js'
import type { RemoteRegistry } from '../ports/remote-files.js'
import type { SalesforceApi } from '../ports/salesforce.js'
import type { SDrive, SDriveFile } from '../ports/sdrive.js'
import type { ReviewRecord, Store } from '../ports/store.js'
import { deliverFile, writeTextFile } from '../transfer/remote-delivery.js'

export interface RejectionRequest {
  fileId: string
  reasonCode: string
  reason: string
  notify?: Record<string, unknown>
}

export interface ReviewEngineDeps {
  flows: ReadonlyMap<string, InboundFlow>
  endpoints: ReadonlyMap<string, EndpointConfig>
  store: Store
  remotes: RemoteRegistry
  sf: SalesforceApi
  sdrive: SDrive
  clock: Clock
  logger: Logger
  metrics: BridgeMetrics
}

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

/** The values review-field templates may use. */
export function reviewTemplateValues(review: ReviewRecord, now: number): Record<string, string> {
  return {
    correlationId: review.correlationId,
    reason: review.reason,
    reasonCode: review.reasonCode,
    'file.name': review.originalName,
    'file.id': review.fileId,
    'record.id': review.recordId,
    now: new Date(now).toISOString(),
  }
}

/** Sets review fields on the reviewed record; throws when Salesforce refuses them. */
export async function updateReviewFields(
  sf: SalesforceApi,
  review: ReviewRecord,
  fields: Record<string, string> | undefined,
  now: number,
  signal?: AbortSignal,
): Promise<void> {
  if (!fields || Object.keys(fields).length === 0 || !review.object) return
  const values = reviewTemplateValues(review, now)
  const record: Record<string, unknown> = { Id: review.recordId }
  for (const [field, template] of Object.entries(fields)) record[field] = renderTemplate(template, values)
  const [result] = await sf.updateRecords(review.object, [record], signal ? { signal } : {})
  if (result && !result.success) {
    throw new BridgeError(
      'SALESFORCE_ERROR',
      `review fields on ${review.object} ${review.recordId}: ${result.errors.map((e) => `${e.statusCode ?? 'ERROR'}: ${e.message}`).join('; ')}`,
      { details: { errors: result.errors } },
    )
  }
}

/** The sObject whose review fields are set: configured, or the object every match rule looks up. */
export function reviewObjectOf(flow: InboundFlow): string | null {
  if (flow.review?.object) return flow.review.object
  const objects = new Set(flow.match.map((rule) => rule.object))
  return objects.size === 1 ? ([...objects][0] as string) : null
}

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

export function createReviewEngine(deps: ReviewEngineDeps): ReviewEngine {
  const { store, clock, logger, metrics } = deps
  const drivers = new Map<string, Promise<void>>()
  const shutdown = new AbortController()
  let closed = false

  function reviewFlowOf(name: string): InboundFlow & { review: ReviewConfig } {
    const flow = deps.flows.get(name)
    if (!flow) {
      throw new BridgeError('NOT_FOUND', `inbound flow "${name}" is not configured`, {
        details: { flow: name },
      })
    }
    if (!flow.review) {
      throw new BridgeError(
        'VALIDATION_FAILED',
        `flow "${name}" has no review configuration (flows[].review)`,
        {
          details: { field: 'flow' },
        },
      )
    }
    return flow as InboundFlow & { review: ReviewConfig }
  }

  async function findFile(
    flow: InboundFlow,
    fileId: string,
  ): Promise<SDriveFile & { fileObject: string; parentField: string }> {
    for (const { fileObject, parentField } of fileObjectsOf(flow)) {
      const [file] = await deps.sdrive.filesByIds(fileObject, parentField, [fileId], {
        signal: shutdown.signal,
      })
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

  function returnedNameOf(
    flow: InboundFlow & { review: ReviewConfig },
    fileName: string,
    correlationId: string,
  ): string {
    const { stem, ext } = nameParts(fileName)
    const rendered = renderTemplate(flow.review.dropZone.fileName, {
      'file.name': fileName,
      'file.stem': stem,
      'file.ext': ext,
      correlationId,
    })
    return sanitizeRemoteSegment(rendered)
  }

  function dropZoneOf(
    flow: InboundFlow & { review: ReviewConfig },
    review: ReviewRecord,
  ): { endpoint: string; directory: string } {
    const endpoint = flow.review.dropZone.endpoint ?? flow.source.endpoint
    const directory = sanitizeRemotePath(
      renderTemplate(flow.review.dropZone.directory, {
        ...reviewTemplateValues(review, clock.now()),
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

  /** Writes the file, the note and the JSON (last: its presence says the rest is there). */
  async function returnToPartner(
    flow: InboundFlow & { review: ReviewConfig },
    review: ReviewRecord,
  ): Promise<string> {
    const signal = shutdown.signal
    const { endpoint: endpointName, directory } = dropZoneOf(flow, review)
    const endpoint = deps.endpoints.get(endpointName)
    const remote = deps.remotes.get(endpointName)
    const settings = {
      atomic: true,
      tempSuffix: '.part',
      supportsRename: endpoint?.supportsRename ?? true,
      signal,
    }
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
    const delivered = await deliverFile(remote, {
      ...settings,
      directory,
      fileName: review.returnedName,
      source: download.stream,
      size,
      existing: 'overwrite',
      tag: review.correlationId,
    })
    const at = new Date(clock.now()).toISOString()
    await writeTextFile(
      remote,
      posix.join(directory, `${review.returnedName}.rejected.txt`),
      noteText(review, at),
      settings,
    )
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
    await writeTextFile(
      remote,
      posix.join(directory, `${review.returnedName}.rejected.json`),
      `${JSON.stringify(machine, null, 2)}\n`,
      settings,
    )
    return delivered.path
  }

  async function drive(correlationId: string): Promise<void> {
    let review = await store.getReview(correlationId)
    if (review?.state !== 'rejecting') return
    const flow = reviewFlowOf(review.flow)
    for (;;) {
      try {
        const path = review.returnedPath ?? (await returnToPartner(flow, review))
        if (review.returnedPath === null)
          review = await store.updateReview(correlationId, { returnedPath: path })
        await updateReviewFields(deps.sf, review, flow.review.onRejected, clock.now(), shutdown.signal)
        await store.updateReview(correlationId, {
          state: 'rejected',
          error: null,
          attempts: review.attempts + 1,
        })
        metrics.reviewEvent(flow.name, 'rejected')
        logger.info({ flow: flow.name, correlationId, path }, 'rejected file returned to the partner')
        return
      } catch (error) {
        if (shutdown.signal.aborted) return
        const e = toBridgeError(error)
        const attempts = review.attempts + 1
        metrics.failure(flow.name, e.code)
        if (!isTransient(e) || attempts >= flow.retry.maxAttempts) {
          await store.updateReview(correlationId, {
            state: 'failed',
            attempts,
            error: { code: e.code, message: e.message },
          })
          metrics.reviewEvent(flow.name, 'failed')
          logger.error({ flow: flow.name, correlationId, code: e.code, err: e.message }, 'rejection failed')
          return
        }
        review = await store.updateReview(correlationId, {
          attempts,
          error: { code: e.code, message: e.message },
        })
        logger.warn({ flow: flow.name, correlationId, code: e.code, attempts }, 'rejection will be retried')
        await clock
          .sleep(
            backoffDelay(attempts - 1, { baseMs: flow.retry.baseDelayMs, maxMs: flow.retry.maxDelayMs }),
            shutdown.signal,
          )
          .catch(() => undefined)
        if (shutdown.signal.aborted) return
      }
    }
  }

  function launch(correlationId: string): void {
    if (closed || drivers.has(correlationId)) return
    const driver = drive(correlationId)
      .catch((error) =>
        logger.error(
          { correlationId, err: toBridgeError(error).message },
          'rejection driver stopped unexpectedly',
        ),
      )
      .finally(() => drivers.delete(correlationId))
    drivers.set(correlationId, driver)
  }

  return {
    async reject(flowName, request) {
      const flow = reviewFlowOf(flowName)
      const file = await findFile(flow, request.fileId)
      const correlationId = newCorrelationId()
      // A file that is itself a resubmission continues its chain.
      const previous = (await store.findReviews({ flow: flow.name, names: [file.fileName] })).find((r) =>
        r.resubmissions.some((s) => s.fileId !== null && s.fileId.slice(0, 15) === file.id.slice(0, 15)),
      )
      const result = await store.createReview({
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
      })
      let review = result.review
      // Asking again for a rejection that failed tries it again.
      if (result.outcome === 'existing' && review.state === 'failed') {
        review = await store.updateReview(review.correlationId, {
          state: 'rejecting',
          attempts: 0,
          error: null,
        })
      }
      if (review.state === 'rejecting') launch(review.correlationId)
      return { review, created: result.outcome === 'created' }
    },

    get: (correlationId) => store.getReview(correlationId),

    list: async (flowName) => {
      reviewFlowOf(flowName)
      return store.findReviews({ flow: flowName })
    },

    async recover() {
      for (const review of await store.findReviews({ states: ['rejecting'] })) {
        if (!deps.flows.get(review.flow)?.review) continue
        launch(review.correlationId)
      }
    },

    async settled(correlationId) {
      await drivers.get(correlationId)
    },

    async close(options = {}) {
      if (closed) return
      closed = true
      const graceMs = options.graceMs ?? 0
      if (graceMs > 0) {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          Promise.allSettled([...drivers.values()]),
          new Promise((resolve) => {
            timer = setTimeout(resolve, graceMs)
          }),
        ])
        clearTimeout(timer)
      }
      shutdown.abort(new BridgeError('CANCELLED', 'service is shutting down'))
      await Promise.allSettled([...drivers.values()])
    },
  }
}
