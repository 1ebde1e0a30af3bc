/**
 * One tick of the polling trigger for one flow: finish what a stopped
 * poller left, run the one SOQL query, and per batch of 200 records write
 * claim intents, claim the records in Salesforce (sObject Collections,
 * allOrNone false) and create one export job per claimed record, as POST
 * /v1/exports would. An intent is removed once its job exists; the job's
 * idempotency key (flow, record, requested stamp) makes a repeat of any
 * step harmless. State machine: docs/how-it-works.md.
 */
import type { Logger } from 'pino'
import type { OutboundFlow } from '../../config/schema.js'
import { toBridgeError } from '../../domain/errors.js'
import {
  claimCheckQueries,
  claimHolds,
  type PolledRequest,
  type PollSpec,
  pollJobKey,
  pollQuery,
  pollRequestOf,
  STAMP_FIELD,
} from '../../domain/poll-query.js'
import type { PollClaimStore, PollIntent } from '../../ports/poll-claims.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import { validateRequest } from './request.js'
import type { Submissions } from './submit.js'

/** sObject Collections take 200 records a call: one claim call per batch. */
const CLAIM_BATCH = 200
/** Open intents finished per tick before new records are polled. */
const RECOVER_BATCH = 2000

/** Where a tick is: test builds kill the process at a step to prove the crash windows. */
export type PollStep = 'intents-written' | 'claimed' | 'jobs-created'

export type PolledFlow = OutboundFlow & {
  trigger: { poll: NonNullable<NonNullable<OutboundFlow['trigger']>['poll']> }
}

export interface PollTickContext {
  sf: SalesforceApi
  claims: PollClaimStore
  submissions: Pick<Submissions, 'submitMany' | 'queuedWork'>
  maxQueuedItems: number
  owner: string
  /** How long the flow's lease lasts from each renewal. */
  leaseMs: number
  logger: Logger
  signal: AbortSignal
  step(step: PollStep, flow: string): void
}

type Claimed = { intent: PollIntent; record: Record<string, unknown> }

export function pollSpecOf(flow: PolledFlow): PollSpec {
  const { poll } = flow.trigger
  return {
    object: poll.object,
    where: poll.where,
    claim: poll.claim,
    limit: poll.limit,
    recordIdField: poll.recordIdField,
    fileIdField: poll.fileIdField,
    metadataFields: poll.metadataFields,
  }
}

/** The claimed records' export requests; those that name nothing valid are logged and left out. */
function requestsOf(ctx: PollTickContext, flow: PolledFlow, claimed: Claimed[]) {
  const spec = pollSpecOf(flow)
  const entries: { intent: PollIntent; request: PolledRequest }[] = []
  const unusable: string[] = []
  for (const { intent, record } of claimed) {
    const request = pollRequestOf(record, spec)
    try {
      if (!request) throw new Error(`${spec.recordIdField} is empty`)
      validateRequest(request)
      entries.push({ intent, request })
    } catch (error) {
      ctx.logger.warn(
        { flow: flow.name, record: intent.recordId, err: (error as Error).message },
        'poll: claimed record names nothing to export; no job',
      )
      unusable.push(intent.recordId)
    }
  }
  return { entries, unusable }
}

/** Creates the jobs of claimed records; an intent goes once its job exists (or never can). */
async function createJobs(ctx: PollTickContext, flow: PolledFlow, claimed: Claimed[]): Promise<number> {
  const { entries, unusable } = requestsOf(ctx, flow, claimed)
  await ctx.claims.finish(flow.name, unusable)
  if (entries.length === 0) return 0
  const results = await ctx.submissions.submitMany(
    flow.name,
    entries.map((e) => ({
      request: e.request,
      idempotencyKey: pollJobKey(flow.name, e.intent.recordId, e.intent.stamp),
    })),
    { trigger: 'schedule' },
  )
  const stored: string[] = []
  results.forEach((result, i) => {
    const id = entries[i]?.intent.recordId as string
    if (result.status === 'fulfilled') stored.push(id)
    else {
      const e = toBridgeError(result.reason)
      // The intent stays: the next tick creates the job (QUEUE_FULL, a store fault).
      ctx.logger.warn(
        { flow: flow.name, record: id, code: e.code, err: e.message },
        'poll: job not created yet',
      )
    }
  })
  ctx.step('jobs-created', flow.name)
  await ctx.claims.finish(flow.name, stored)
  return stored.length
}

/** Intents left by a poller that stopped between claim and job: claimed records get their jobs. */
async function recover(ctx: PollTickContext, flow: PolledFlow): Promise<void> {
  const open = await ctx.claims.open(flow.name, RECOVER_BATCH)
  if (open.length === 0) return
  const spec = pollSpecOf(flow)
  const records = new Map<string, Record<string, unknown>>()
  for (const soql of claimCheckQueries(
    spec,
    open.map((i) => i.recordId),
  )) {
    for (const r of await ctx.sf.query(soql, { signal: ctx.signal })) records.set(String(r.Id), r)
  }
  const held: Claimed[] = []
  const notClaimed: string[] = []
  for (const intent of open) {
    const record = records.get(intent.recordId)
    if (record && claimHolds(record, spec.claim)) held.push({ intent, record })
    // Never claimed (or changed since): if it is still requested, the query finds it again.
    else notClaimed.push(intent.recordId)
  }
  await ctx.claims.finish(flow.name, notClaimed)
  const jobs = await createJobs(ctx, flow, held)
  ctx.logger.info(
    { flow: flow.name, open: open.length, jobs, released: notClaimed.length },
    'poll: finished the claims a stopped poller left',
  )
}

/** Writes intents, claims the records in Salesforce, creates the jobs of those claimed. */
async function claimBatch(ctx: PollTickContext, flow: PolledFlow, batch: Record<string, unknown>[]) {
  const spec = pollSpecOf(flow)
  const byId = new Map(batch.map((r) => [String(r.Id), r]))
  const intents = await ctx.claims.begin(
    flow.name,
    batch.map((r) => ({ recordId: String(r.Id), stamp: String(r[STAMP_FIELD] ?? '') })),
  )
  if (intents.length === 0) return 0
  ctx.step('intents-written', flow.name)
  const results = await ctx.sf.updateRecords(
    spec.object,
    intents.map((i) => ({ Id: i.recordId, ...spec.claim })),
    { signal: ctx.signal },
  )
  ctx.step('claimed', flow.name)
  const claimed: Claimed[] = []
  const refused: string[] = []
  intents.forEach((intent, i) => {
    const result = results[i]
    if (result?.success) claimed.push({ intent, record: byId.get(intent.recordId) ?? {} })
    else {
      refused.push(intent.recordId)
      ctx.logger.warn(
        { flow: flow.name, record: intent.recordId, errors: result?.errors ?? [] },
        'poll: claim refused; the record stays requested',
      )
    }
  })
  await ctx.claims.finish(flow.name, refused)
  return createJobs(ctx, flow, claimed)
}

/** One tick, by the process holding the flow's poll lease (others return at once). */
export async function pollTick(ctx: PollTickContext, flow: PolledFlow): Promise<void> {
  const { claims, owner, leaseMs } = ctx
  if (!(await claims.holdLease(flow.name, owner, leaseMs))) return
  await recover(ctx, flow)
  const room = ctx.maxQueuedItems - (await ctx.submissions.queuedWork())
  if (room <= 0) {
    ctx.logger.info({ flow: flow.name }, 'poll: queue.maxQueuedItems reached; polling again next tick')
    return
  }
  const limit = Math.min(flow.trigger.poll.limit, room)
  const records = await ctx.sf.query(pollQuery(pollSpecOf(flow), limit), { signal: ctx.signal })
  let jobs = 0
  for (let i = 0; i < records.length; i += CLAIM_BATCH) {
    // A tick longer than the lease: stop if another process has taken the flow over.
    if (ctx.signal.aborted || !(await claims.holdLease(flow.name, owner, leaseMs))) break
    jobs += await claimBatch(ctx, flow, records.slice(i, i + CLAIM_BATCH))
  }
  if (records.length > 0)
    ctx.logger.info({ flow: flow.name, found: records.length, jobs }, 'poll: jobs created')
}
