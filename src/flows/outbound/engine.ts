/**
 * Outbound exports: S-Drive documents of Salesforce records delivered to a
 * recipient's FTP/SFTP server. A job is a run of an outbound flow; its
 * files are items (ledger key job + file, so a file is delivered once per
 * job). Accepting a job only writes it to the store; the run driver
 * delivers it in the background, at once or at the flow's delivery window.
 */
import type { Cron } from 'croner'
import type { OutboundFlow } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import { MapView } from '../../domain/map-view.js'
import type { RunRecord } from '../../ports/store.js'
import { createRunDriver } from '../../runs/driver.js'
import { moveItem } from '../../runs/items.js'
import type { LeaseKeeper } from '../../runs/lease-keeper.js'
import { withRunServices } from '../flow-services.js'
import type { OutboundDeps } from './deps.js'
import { CANCELLED_BY_REQUEST, createOutboundDrive, resetInterruptedItems, skipActiveItems } from './drive.js'
import { createSubmissions, outboundFlowOf, type Submissions } from './submit.js'
import { type Batch, claimWindow, startWindowTimers } from './windows.js'

export interface ExportEngineDeps extends OutboundDeps {
  flows: ReadonlyMap<string, OutboundFlow>
  maxQueuedItems: number
  /** Run leases: this process drives only the jobs it holds. */
  leases: LeaseKeeper
  /** How often to look for jobs nobody drives (a crashed replica's); default half a lease. */
  claimIntervalMs?: number
  maxActiveRuns?: number
}

export interface ExportEngine extends Submissions {
  retry(jobId: string): Promise<{ job: RunRecord; retried: number }>
  cancel(jobId: string): Promise<RunRecord>
  /** Delivers every job of the flow whose window has come (what the window's cron tick calls). */
  releaseWindow(flow: string): Promise<string[]>
  recover(): Promise<void>
  startWindows(): void
  settled(jobId: string): Promise<void>
  isOutboundFlow(flow: string): boolean
  /** An export job, also one whose flow a reload has since removed (it keeps its request). */
  isExportJob(run: Pick<RunRecord, 'flow' | 'request'>): boolean
  /**
   * What admission counts against queue.maxQueuedItems: files waiting or in
   * progress plus export jobs not finished (jobs paused for the API limit
   * included). bridge_queue_depth reports this same number.
   */
  queuedWork(): Promise<number>
  /** Stops starting new deliveries, lets those in flight finish for up to graceMs, then aborts. */
  close(options?: { graceMs?: number }): Promise<void>
}

export function createExportEngine(deps: ExportEngineDeps): ExportEngine {
  const { store, clock, logger } = deps
  const driver = createRunDriver<Batch>({
    ...(deps.outbox ? { outboxFor: deps.outbox.forRun } : {}),
    // A view, not a copy: a configuration reload that adds or removes flows in deps.flows shows here too.
    flows: new MapView(deps.flows, () => 'outbound' as const),
    store,
    clock,
    leases: deps.leases,
    events: deps.events,
    logger,
    ...(deps.maxActiveRuns !== undefined ? { maxActiveRuns: deps.maxActiveRuns } : {}),
    ...(deps.claimIntervalMs !== undefined ? { claimIntervalMs: deps.claimIntervalMs } : {}),
    drive: (jobs, control, hint) =>
      withRunServices(deps, (pinned) => createOutboundDrive(pinned)(jobs, control, hint)),
    beforeResume: (run) => resetInterruptedItems(store, run),
  })
  const submissions = createSubmissions({ ...deps, claim: (ids) => driver.claim(ids) })
  let windows: Cron[] = []

  const isExportJob = (run: Pick<RunRecord, 'flow' | 'request'>) =>
    deps.flows.has(run.flow) || run.request !== null

  /** A job that can be acted on: its flow must still be configured to retry or cancel it. */
  const jobOf = async (jobId: string): Promise<RunRecord> => {
    const job = await store.getRun(jobId)
    if (!job || !isExportJob(job)) throw new BridgeError('NOT_FOUND', `job ${jobId} does not exist`)
    if (!deps.flows.has(job.flow))
      throw new BridgeError(
        'FLOW_REMOVED',
        `flow "${job.flow}" of job ${jobId} was removed from the configuration: the job can be read, not retried or cancelled`,
      )
    return job
  }

  const engine: ExportEngine = {
    isOutboundFlow: (name) => deps.flows.has(name),
    isExportJob,
    queuedWork: submissions.queuedWork,
    submit: submissions.submit,
    submitMany: submissions.submitMany,

    async retry(jobId) {
      const job = await jobOf(jobId)
      const failed = (await store.listItems(jobId)).filter((i) => i.state === 'failed')
      for (const item of failed)
        await moveItem(store, item, 'pending', { attempts: 0, nextAttemptAt: null, error: null })
      if (failed.length === 0) return { job, retried: 0 }
      const updated = await store.updateRun(jobId, { state: 'running', finishedAt: null, error: null })
      // Driven elsewhere: that driver's next round finds the items pending again.
      if (!driver.isDriving(jobId)) await driver.claim([jobId])
      return { job: updated, retried: failed.length }
    },

    async cancel(jobId) {
      const job = await jobOf(jobId)
      if (!['waiting_for_window', 'queued', 'running'].includes(job.state)) {
        throw new BridgeError('CONFLICT', `job ${jobId} is ${job.state} and cannot be cancelled`)
      }
      if (await driver.cancel(jobId, CANCELLED_BY_REQUEST.message))
        return (await store.getRun(jobId)) as RunRecord
      await skipActiveItems(store, jobId)
      return store.updateRun(jobId, {
        state: 'cancelled',
        finishedAt: new Date(clock.now()).toISOString(),
        error: { ...CANCELLED_BY_REQUEST },
      })
    },

    async releaseWindow(flowName) {
      const claimed = await claimWindow(
        { store, clock, leases: deps.leases },
        outboundFlowOf(deps.flows, flowName),
      )
      if (!claimed) return []
      driver.launch(claimed.jobs, claimed.batch)
      return claimed.jobs.map((j) => j.id)
    },

    recover: () => driver.start(),

    startWindows() {
      // Again after a reload: the windows of the flows configured now, none twice.
      for (const w of windows) w.stop()
      windows = startWindowTimers(deps.flows.values(), (flow) => engine.releaseWindow(flow), logger)
    },

    settled: (jobId) => driver.settled(jobId),

    async close(options = {}) {
      for (const w of windows) w.stop()
      await driver.close(options)
    },
  }
  return engine
}
