/**
 * The inbound engine: starts, plans and retries source-folder runs (inbound
 * transfers and status files) and has the run driver drive them
 * (driveRun). Claiming, leases, shutdown and progress are the driver's.
 */
import { type BatchLimits, DEFAULT_BATCH_LIMITS } from '../../domain/batching.js'
import { BridgeError } from '../../domain/errors.js'
import { MapView } from '../../domain/map-view.js'
import type { RunRecord, RunTrigger } from '../../ports/store.js'
import { createRunDriver } from '../../runs/driver.js'
import type { RunKind } from '../../runs/events.js'
import type { LeaseKeeper } from '../../runs/lease-keeper.js'
import type { FlowSchemaChecker } from '../../services/flow-schema.js'
import { type TransferServices, withRunServices } from '../flow-services.js'
import { CANCELLED_BY_OPERATOR, letGoOfCancelledFiles } from './cancel.js'
import type { SourceFolderFlow, SourceFolderServices } from './context.js'
import { type DriveHint, driveRun } from './drive.js'
import { type DryRunPlan, dryRun } from './dry-run.js'
import { retryFailedItems } from './retry-run.js'

export interface InboundEngineDeps extends TransferServices {
  flows: ReadonlyMap<string, SourceFolderFlow>
  maxQueuedItems: number
  batchLimits?: BatchLimits
  /** How long a batch done uploading waits to share its PUT /files (sdrive.completionWaitMs). */
  completionWaitMs: number
  /** Run leases: this process drives only the runs it holds. */
  leases: LeaseKeeper
  /** Checks inbound flows against the org's schema before their runs; none: not checked. */
  flowSchema?: FlowSchemaChecker
  /** How often to look for runs nobody drives (a crashed replica's); default half a lease. */
  claimIntervalMs?: number
  /** Runs driven at once by this process. */
  maxActiveRuns?: number
}

export interface StartRunOptions {
  trigger: RunTrigger
  idempotencyKey?: string
  requestHash?: string
}

export interface InboundEngine {
  startRun(flow: string, options: StartRunOptions): Promise<{ run: RunRecord; created: boolean }>
  dryRun(flow: string, signal?: AbortSignal): Promise<DryRunPlan>
  retryRun(runId: string): Promise<{ run: RunRecord; retried: number }>
  /** Cancels a queued or running run: its files not yet moved are let go for a later run. */
  cancelRun(runId: string): Promise<RunRecord>
  /** Claims unfinished runs nobody drives, now and then every claim interval (call once at start-up). */
  recover(): Promise<void>
  /** Resolves when the run's driver has stopped (finished, or engine closed). */
  settled(runId: string): Promise<void>
  /** Whether a run of the flow is queued or running, in any process. */
  hasActiveRun(flow: string): Promise<boolean>
  /** Bytes streamed so far per item of a run, for files in flight. */
  inFlightBytes(runId: string): ReadonlyMap<string, number>
  /**
   * Stops starting new work, lets transfers in flight finish for up to
   * graceMs, then aborts the rest (left for the next start to reconcile).
   */
  close(options?: { graceMs?: number }): Promise<void>
}

export function createInboundEngine(deps: InboundEngineDeps): InboundEngine {
  const { store } = deps
  const services: SourceFolderServices = {
    ...deps,
    batchLimits: deps.batchLimits ?? DEFAULT_BATCH_LIMITS,
  }
  const flowOf = (name: string): SourceFolderFlow => {
    const flow = deps.flows.get(name)
    if (!flow)
      throw new BridgeError('NOT_FOUND', `flow "${name}" is not configured`, { details: { flow: name } })
    return flow
  }
  // A view, not a copy: a configuration reload that adds or removes flows in deps.flows shows here too.
  const kinds = new MapView<string, SourceFolderFlow, RunKind>(deps.flows, (flow) =>
    flow.kind === 'status' ? 'status' : 'inbound',
  )
  const driver = createRunDriver<DriveHint>({
    ...(deps.outbox ? { outboxFor: deps.outbox.forRun } : {}),
    flows: kinds,
    store,
    clock: deps.clock,
    leases: deps.leases,
    events: deps.events,
    logger: deps.logger,
    ...(deps.maxActiveRuns === undefined ? {} : { maxActiveRuns: deps.maxActiveRuns }),
    ...(deps.claimIntervalMs === undefined ? {} : { claimIntervalMs: deps.claimIntervalMs }),
    async drive(runs, control, hint) {
      for (const run of runs) {
        const flow = flowOf(run.flow)
        await withRunServices(services, (pinned) => driveRun({ ...pinned, control }, flow, run, hint))
      }
    },
  })

  return {
    async startRun(flowName, options) {
      const flow = flowOf(flowName)
      if ((await store.activeItemCount()) >= deps.maxQueuedItems || !deps.queue.hasRoom()) {
        throw new BridgeError('QUEUE_FULL', 'too many files are waiting; try again later', {
          transient: true,
          details: { retryAfterSeconds: 30 },
        })
      }
      const result = await store.createRun({
        flow: flow.name,
        trigger: options.trigger,
        ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
        ...(options.requestHash ? { requestHash: options.requestHash } : {}),
      })
      if (result.outcome === 'conflict') {
        throw new BridgeError('CONFLICT', 'Idempotency-Key was already used with a different request', {
          details: { runId: result.run.id },
        })
      }
      if (result.outcome === 'created') await driver.claim([result.run.id])
      return { run: result.run, created: result.outcome === 'created' }
    },

    dryRun: (flowName, signal) => dryRun(services, flowOf(flowName), signal),

    async retryRun(runId) {
      const run = await store.getRun(runId)
      if (!run) throw new BridgeError('NOT_FOUND', `run ${runId} does not exist`, { details: { runId } })
      flowOf(run.flow)
      const result = await retryFailedItems(services, run)
      // A retry of a run that is still being driven (here or by another process) joins that driver's next round.
      if (result.retried > 0 && !driver.isDriving(runId))
        await driver.claim([runId], { withDiscovery: false })
      return result
    },

    async cancelRun(runId) {
      const run = await store.getRun(runId)
      if (!run || !deps.flows.has(run.flow))
        throw new BridgeError('NOT_FOUND', `run ${runId} does not exist`, { details: { runId } })
      if (run.state !== 'queued' && run.state !== 'running') {
        throw new BridgeError('CONFLICT', `run ${runId} is ${run.state} and cannot be cancelled`, {
          details: { runId, state: run.state },
        })
      }
      // Driven here: its driver stops it and finishes it as cancelled (drive.ts).
      if (await driver.cancel(runId, CANCELLED_BY_OPERATOR.message)) return (await store.getRun(runId)) ?? run
      await letGoOfCancelledFiles(store, runId)
      return store.updateRun(runId, {
        state: 'cancelled',
        finishedAt: new Date(deps.clock.now()).toISOString(),
        error: { ...CANCELLED_BY_OPERATOR },
      })
    },

    recover: () => driver.start(),
    settled: (runId) => driver.settled(runId),
    hasActiveRun: async (flow) =>
      driver.activeRuns(flow) > 0 || (await store.countRuns(['queued', 'running'], [flow])) > 0,
    inFlightBytes: (runId) => driver.inFlightBytes(runId),
    close: (options) => driver.close(options),
  }
}
