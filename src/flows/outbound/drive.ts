/**
 * Driving export jobs through the stages: plan (once), then rounds of
 * fetch + deliver and finalize until no file is active, then companions
 * and write-back, and the job's final state. Jobs of one delivery window
 * are driven together and share the companions.
 */
import type { OutboundFlow } from '../../config/schema.js'
import { type BridgeError, toBridgeError } from '../../domain/errors.js'
import { finalRunState } from '../../domain/item-state.js'
import type { ItemRecord, RunRecord, RunState, Store } from '../../ports/store.js'
import type { RunControl } from '../../runs/driver.js'
import { moveItem } from '../../runs/items.js'
import { driveRounds, isActiveItem, nextWake } from '../../runs/rounds.js'
import { writeCompanions } from './companions.js'
import { deliverDue } from './deliver.js'
import type { OutboundDeps } from './deps.js'
import { finalizeDelivered } from './finalize.js'
import { planJob } from './plan.js'
import { retryJobStep } from './retries.js'
import type { Batch } from './windows.js'
import { stateAfterWriteBack, writeBack } from './write-back.js'

export const CANCELLED_BY_REQUEST = { code: 'CANCELLED', message: 'cancelled by request' } as const

async function itemsOf(store: Store, jobs: RunRecord[]): Promise<ItemRecord[]> {
  return (await Promise.all(jobs.map((j) => store.listItems(j.id)))).flat()
}

/** A cancelled job's files still to go are skipped. */
export async function skipActiveItems(store: Store, jobId: string): Promise<void> {
  for (const item of (await store.listItems(jobId)).filter(isActiveItem)) {
    await store.updateItem(item.id, {
      state: 'skipped',
      error: { code: 'CANCELLED', message: 'job cancelled' },
    })
  }
}

/** A job taken over from a stopped process: its interrupted deliveries start again. */
export async function resetInterruptedItems(store: Store, job: RunRecord): Promise<void> {
  for (const item of (await store.listItems(job.id)).filter((i) => i.state === 'transferring')) {
    // Remote writes go to a temporary name first, so an interrupted one is simply redone.
    await moveItem(store, item, 'pending')
  }
}

/** Marks the job running and plans it, once: a resumed job goes on with its items (or its note). */
async function startJob(
  deps: OutboundDeps,
  flow: OutboundFlow,
  job: RunRecord,
  batch: Batch | null,
  control: RunControl,
): Promise<void> {
  const { store } = deps
  const fresh = (await store.getRun(job.id)) as RunRecord
  await store.updateRun(job.id, {
    state: 'running',
    startedAt: fresh.startedAt ?? new Date(deps.clock.now()).toISOString(),
  })
  if ((await store.listItems(job.id)).length > 0 || fresh.notes.length > 0) return
  await retryJobStep(deps, flow, control, { name: 'planning the job', jobId: job.id }, () =>
    planJob(deps, flow, fresh, batch, control.signal),
  )
}

/** Rounds of delivery and finalizing until no file is active; draining leaves files not started pending. */
function deliverAll(
  deps: OutboundDeps,
  flow: OutboundFlow,
  jobs: RunRecord[],
  control: RunControl,
): Promise<'finished' | 'stopped'> {
  return driveRounds(control, deps.clock, async () => {
    await deliverDue(deps, flow, await itemsOf(deps.store, jobs), control.signal)
    await finalizeDelivered(deps, flow, await itemsOf(deps.store, jobs), control.signal)
    return nextWake(await itemsOf(deps.store, jobs), deps.clock.now(), flow.retry.baseDelayMs)
  })
}

/** The jobs' manifest and done-marker; a fault left after the retries is returned, to fail the jobs. */
async function companionsFor(
  deps: OutboundDeps,
  flow: OutboundFlow,
  jobs: RunRecord[],
  batch: Batch | null,
  control: RunControl,
): Promise<BridgeError | null> {
  const items = await itemsOf(deps.store, jobs)
  const step = { name: 'writing the manifest and done-marker', jobId: jobs[0]?.id ?? '' }
  try {
    await retryJobStep(deps, flow, control, step, () =>
      writeCompanions(deps, flow, jobs, items, batch, control.signal),
    )
    return null
  } catch (error) {
    if (control.signal.aborted) throw error
    // Its own code (a Salesforce fault in the manifest's record query is not a remote I/O fault).
    return toBridgeError(error, 'REMOTE_IO')
  }
}

/** The job's outcome from its files, written back, and stored as its final state. */
async function finishJob(
  deps: OutboundDeps,
  flow: OutboundFlow,
  job: RunRecord,
  companionError: BridgeError | null,
  control: RunControl,
): Promise<void> {
  const items = await deps.store.listItems(job.id)
  const counts = await deps.store.runCounts(job.id)
  const outcome: RunState = items.length === 0 ? 'nothing_to_export' : (finalRunState(counts) ?? 'failed')
  const writeBackError = await writeBack(deps, flow, job, items, outcome, control)
  const state = companionError ? 'failed' : stateAfterWriteBack(outcome, writeBackError)
  const problem = companionError ?? writeBackError
  await control.finish(job, state, problem ? { code: problem.code, message: problem.message } : null)
  if (writeBackError)
    deps.logger.warn(
      { job: job.id, code: writeBackError.code, err: writeBackError.message },
      'write-back failed',
    )
}

/** Jobs ended by a fault or a cancel: failed, or cancelled with their files still to go skipped. */
async function endInterrupted(
  deps: OutboundDeps,
  jobs: RunRecord[],
  control: RunControl,
  error: unknown,
): Promise<void> {
  const cancelled = control.cancelled.aborted
  const e = toBridgeError(error)
  for (const job of jobs) {
    await control.finish(
      job,
      cancelled ? 'cancelled' : 'failed',
      cancelled ? CANCELLED_BY_REQUEST : { code: e.code, message: e.message },
    )
    if (cancelled) await skipActiveItems(deps.store, job.id)
  }
}

/**
 * The job's log lines carry its idempotency key: the caller's
 * `Idempotency-Key`, or an Outbound Message's notification id within
 * `outbound-message:<flow>:<id>`, so the caller's own id finds them.
 */
function forJob(deps: OutboundDeps, job: RunRecord): OutboundDeps {
  if (job.idempotencyKey === null) return deps
  return { ...deps, logger: deps.logger.child({ idempotencyKey: job.idempotencyKey }) }
}

/** The run driver's drive function for outbound flows: jobs of one flow, a window's batch when given. */
export function createOutboundDrive(deps: OutboundDeps & { flows: ReadonlyMap<string, OutboundFlow> }) {
  return async function driveJobs(jobs: RunRecord[], control: RunControl, hint: Batch | undefined) {
    const flow = deps.flows.get((jobs[0] as RunRecord).flow) as OutboundFlow
    const batch = hint ?? null
    // A window's jobs share their delivery rounds and companions: those lines name no single job.
    const shared = jobs.length === 1 ? forJob(deps, jobs[0] as RunRecord) : deps
    try {
      for (const job of jobs) await startJob(forJob(deps, job), flow, job, batch, control)
      if ((await deliverAll(shared, flow, jobs, control)) === 'stopped') return
      const companionError = await companionsFor(shared, flow, jobs, batch, control)
      for (const job of jobs) await finishJob(forJob(deps, job), flow, job, companionError, control)
    } catch (error) {
      // Stopped, not failed: the next start, or the job's new owner, carries on.
      if (control.stopped()) return
      await endInterrupted(deps, jobs, control, error)
    }
  }
}
