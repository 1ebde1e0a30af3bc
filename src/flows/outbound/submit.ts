/**
 * Accepting export jobs: the request checked, admitted within
 * queue.maxQueuedItems, stored (held for the flow's next window when it
 * has one), and claimed to start at once when it has no window.
 */
import type { OutboundFlow } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import type { RunRecord, RunTrigger, Store, TriggerCheckpoint } from '../../ports/store.js'
import { createAdmission, queueFull, storeJob } from './admission.js'
import type { OutboundDeps } from './deps.js'
import { createRecordObjectCheck, type ExportRequest, validateRequest } from './request.js'
import { createNextWindow } from './windows.js'

export type Submitted = { job: RunRecord; created: boolean }
export type SubmitOptions = {
  trigger: RunTrigger
  idempotencyKey?: string
  /** Stored with the job, in its transaction (a Pub/Sub subscription's replay id). */
  checkpoint?: TriggerCheckpoint
}
export type SubmitEntry = { request: ExportRequest; idempotencyKey?: string }

export function outboundFlowOf(flows: ReadonlyMap<string, OutboundFlow>, name: string): OutboundFlow {
  const flow = flows.get(name)
  if (!flow)
    throw new BridgeError('NOT_FOUND', `outbound flow "${name}" is not configured`, {
      details: { flow: name },
    })
  return flow
}

export interface Submissions {
  submit(flow: string, request: ExportRequest, options: SubmitOptions): Promise<Submitted>
  /**
   * Several submissions stored together (their writes share one commit) and
   * launched with one claim: what an Outbound Message of up to 100
   * notifications needs before its Ack. One result per entry, in order.
   */
  submitMany(
    flow: string,
    entries: SubmitEntry[],
    options: { trigger: RunTrigger },
  ): Promise<PromiseSettledResult<Submitted>[]>
  queuedWork(): Promise<number>
}

export function createSubmissions(
  deps: Pick<OutboundDeps, 'store' | 'clock' | 'sf' | 'logger'> & {
    flows: ReadonlyMap<string, OutboundFlow>
    maxQueuedItems: number
    /** Claims stored jobs to start them now (within maxActiveRuns). */
    claim(ids: string[]): Promise<void>
  },
): Submissions {
  const store: Store = deps.store
  const admission = createAdmission(store, deps.maxQueuedItems, () => [...deps.flows.keys()])
  const nextWindow = createNextWindow(deps.clock)
  const checkRecordObjects = createRecordObjectCheck(deps.sf, deps.logger)

  /** Stores an admitted job, held for the flow's next window when it has one. */
  const storeAdmitted = (flow: OutboundFlow, request: ExportRequest, options: SubmitOptions) =>
    storeJob(store, flow, request, options, nextWindow(flow))

  async function submit(
    flowName: string,
    request: ExportRequest,
    options: SubmitOptions,
  ): Promise<Submitted> {
    const flow = outboundFlowOf(deps.flows, flowName)
    validateRequest(request)
    await checkRecordObjects(flow, request)
    const { job, created, launch } = await admission.withAdmission(1, (fit) => {
      if (fit === 0) throw queueFull()
      return storeAdmitted(flow, request, options)
    })
    if (launch) await deps.claim([job.id])
    return { job, created }
  }

  /** Not room for all: one at a time, as submit() does. */
  async function submitEach(
    flow: OutboundFlow,
    entries: SubmitEntry[],
    optionsOf: (entry: SubmitEntry) => SubmitOptions,
  ): Promise<PromiseSettledResult<Submitted>[]> {
    const results: PromiseSettledResult<Submitted>[] = []
    for (const entry of entries) {
      results.push(
        await submit(flow.name, entry.request, optionsOf(entry)).then(
          (value) => ({ status: 'fulfilled' as const, value }),
          (reason: unknown) => ({ status: 'rejected' as const, reason }),
        ),
      )
    }
    return results
  }

  async function submitMany(
    flowName: string,
    entries: SubmitEntry[],
    options: { trigger: RunTrigger },
  ): Promise<PromiseSettledResult<Submitted>[]> {
    const flow = outboundFlowOf(deps.flows, flowName)
    for (const entry of entries) validateRequest(entry.request)
    const optionsOf = (entry: SubmitEntry) => ({
      trigger: options.trigger,
      ...(entry.idempotencyKey ? { idempotencyKey: entry.idempotencyKey } : {}),
    })
    // Room for all: stored concurrently, so the store's group commit writes them together.
    const stored = await admission.withAdmission(entries.length, async (fit) =>
      fit < entries.length
        ? undefined
        : Promise.allSettled(entries.map((entry) => storeAdmitted(flow, entry.request, optionsOf(entry)))),
    )
    // A job recorded by an earlier delivery of the same message then takes no room, and what fits is recorded in order.
    if (stored === undefined) return submitEach(flow, entries, optionsOf)
    const ids = stored.flatMap((r) => (r.status === 'fulfilled' && r.value.launch ? [r.value.job.id] : []))
    // One claim, within maxActiveRuns; jobs beyond it wait for the claim loop, as any queued job.
    if (ids.length > 0) await deps.claim(ids)
    return stored.map((r) =>
      r.status === 'fulfilled'
        ? { status: r.status, value: { job: r.value.job, created: r.value.created } }
        : r,
    )
  }

  return { submit, submitMany, queuedWork: () => admission.queuedWork() }
}
