/**
 * Admission: a job is accepted only while the work waiting fits within
 * queue.maxQueuedItems (beyond it, QUEUE_FULL: a 429 with Retry-After), and
 * an accepted job is stored, once per idempotency key.
 */
import type { OutboundFlow } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import { displacedKey } from '../../domain/idempotency-keys.js'
import type { RunRecord, RunTrigger, Store, TriggerCheckpoint } from '../../ports/store.js'
import { type ExportRequest, exportRequestHash } from './request.js'

export const queueFull = () =>
  new BridgeError('QUEUE_FULL', 'too many files are waiting; try again later', {
    transient: true,
    details: { retryAfterSeconds: 30 },
  })

export interface Admission {
  /**
   * Takes `count` admission slots against maxQueuedItems and runs `admitted`
   * with how many of them fit.
   */
  withAdmission<T>(count: number, admitted: (fit: number) => Promise<T>): Promise<T>
  /** Files waiting or in progress, and export jobs not finished: what admission bounds. */
  queuedWork(): Promise<number>
}

export function createAdmission(
  store: Store,
  maxQueuedItems: number,
  outboundFlows: () => readonly string[],
): Admission {
  /** Requests inside submit() whose job is not in the store yet (or only just). */
  let admitting = 0

  async function queuedWork(): Promise<number> {
    const [items, unfinished] = await Promise.all([
      store.activeItemCount(),
      store.countRuns(['queued', 'running'], [...outboundFlows()]),
    ])
    return items + unfinished
  }

  return {
    queuedWork,
    /**
     * The bound counts files waiting or in progress, and one for each export
     * job not finished or being admitted: a job's files reach the store only
     * once it is planned, so without it a burst of requests would all pass.
     * The slots are taken before the first await, so requests that
     * interleave see each other.
     */
    async withAdmission(count, admitted) {
      admitting += count
      try {
        const room = maxQueuedItems - ((await queuedWork()) + admitting - count)
        return await admitted(Math.max(0, Math.min(count, room)))
      } finally {
        admitting -= count
      }
    },
  }
}

export interface StoredJob {
  job: RunRecord
  created: boolean
  /** Whether it should start now (new, and its flow has no delivery window). */
  launch: boolean
}

/** Stores one admitted job, waiting for `notBefore` (the flow's next window) when there is one. */
export async function storeJob(
  store: Store,
  flow: OutboundFlow,
  request: ExportRequest,
  options: { trigger: RunTrigger; idempotencyKey?: string; checkpoint?: TriggerCheckpoint },
  notBefore: string | null,
): Promise<StoredJob> {
  const create = (idempotencyKey: string | undefined) =>
    store.createRun({
      flow: flow.name,
      trigger: options.trigger,
      request: { ...request },
      requestHash: exportRequestHash(flow.name, request),
      ...(idempotencyKey ? { idempotencyKey } : {}),
      ...(notBefore ? { state: 'waiting_for_window' as const, notBefore } : {}),
      ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    })
  const key = options.idempotencyKey
  const serviceKey = key !== undefined && options.trigger !== 'api'
  let result = await create(key)
  if (serviceKey && result.outcome !== 'created' && result.run.trigger !== options.trigger) {
    // A client stored this service key before such keys were refused: step aside from it.
    result = await create(displacedKey(key))
  }
  if (result.outcome === 'conflict' && !serviceKey) {
    throw new BridgeError('CONFLICT', 'Idempotency-Key was already used with a different request', {
      details: { jobId: result.run.id },
    })
  }
  // A service key seen again with other content (a notification redelivered after its record
  // changed) is the same request: the job recorded first stands.
  const created = result.outcome === 'created'
  return { job: result.run, created, launch: created && !notBefore }
}
