/**
 * The run driver: what every flow kind's runs share, written once. It
 * claims runs nobody drives (the claim loop, single-flight, within
 * maxActiveRuns), holds and renews their leases, launches the kind's drive
 * function with a RunControl, cancels, stops on a lost lease or shutdown,
 * and reports run-started, run-finished and run-settled on the event
 * stream. It knows nothing about FTP, S-Drive or what a flow kind does.
 */
import { setMaxListeners } from 'node:events'
import type { Logger } from 'pino'
import { BridgeError, toBridgeError } from '../domain/errors.js'
import type { Clock } from '../ports/clock.js'
import type { NewOutboxMessage, RunPatch, RunRecord, RunState, Store } from '../ports/store.js'
import type { EventError, RunEvents, RunKind } from './events.js'
import type { LeaseKeeper } from './lease-keeper.js'
import { createProgressTracker, type ProgressTracker } from './progress-tracker.js'
import { createTaskSet, type TaskSet } from './task-set.js'

/** What a kind's drive function gets: its signals and the driver's reporting. */
export interface RunControl {
  /** Aborted on shutdown, a lost lease or a cancel: stop whatever is in flight. */
  readonly signal: AbortSignal
  /** The service is stopping for good: aborted once the drain's grace is over. */
  readonly shutdown: AbortSignal
  /** The service is draining: start nothing new; what is in flight may finish. */
  readonly draining: AbortSignal
  /** Another process took one of the runs' leases. */
  readonly lost: AbortSignal
  /** A cancel was asked for one of the runs. */
  readonly cancelled: AbortSignal
  /** Draining, shut down or lease lost: leave the runs for whoever drives them next; not a failure. */
  stopped(): boolean
  /** Stores a run's final state (with finishedAt; the error too unless undefined) and reports run-finished. */
  finish(run: RunRecord, state: RunState, error?: EventError | null): Promise<RunRecord>
  readonly progress: ProgressTracker
}

export interface RunDriverOptions<Hint> {
  /** The flows whose runs this driver claims, and the kind of each. */
  flows: ReadonlyMap<string, RunKind>
  store: Store
  clock: Clock
  leases: LeaseKeeper
  events: RunEvents
  logger: Logger
  maxActiveRuns?: number
  /** How often to look for runs nobody drives (a crashed replica's); default half a lease. */
  claimIntervalMs?: number
  /** Drives runs (several together when launched together) until they end or control says stop. */
  drive(runs: RunRecord[], control: RunControl, hint: Hint | undefined): Promise<void>
  /**
   * The notifications a run's final state brings, written in the same
   * transaction as that state (so a crash between them loses neither).
   */
  outboxFor?(run: RunRecord, state: RunState, error: EventError | null): Promise<NewOutboxMessage[]>
  /** Before driving a run the claim loop took over (not one launched by id): e.g. reset interrupted items. */
  beforeResume?(run: RunRecord): Promise<void>
}

export interface RunDriver<Hint> {
  /** Claims unfinished runs nobody drives, now and then every claim interval (call once at start-up). */
  start(): Promise<void>
  /** Claims these runs (or any nobody drives) within maxActiveRuns and drives them. */
  claim(ids?: readonly string[], hint?: Hint): Promise<void>
  /** Drives runs whose leases the caller claimed, together. */
  launch(runs: RunRecord[], hint?: Hint): void
  isDriving(runId: string): boolean
  /** Aborts a run driven here; resolves once its driver stopped. False when it is not driven here. */
  cancel(runId: string, reason: string): Promise<boolean>
  settled(runId: string): Promise<void>
  inFlightBytes(runId: string): ReadonlyMap<string, number>
  /** Runs of the flow driven by this process. */
  activeRuns(flow: string): number
  /** Drains: stops claiming, lets work in flight finish for up to graceMs, then aborts the rest. */
  close(options?: { graceMs?: number }): Promise<void>
}

/** What the driver's parts share. */
interface DriverState<Hint> {
  options: RunDriverOptions<Hint>
  tasks: TaskSet
  progress: ProgressTracker
  cancels: Map<string, AbortController>
  perFlow: Map<string, number>
}

const kindOf = (state: DriverState<unknown>, flow: string): RunKind =>
  state.options.flows.get(flow) ?? 'inbound'

async function finishRun(
  state: DriverState<unknown>,
  run: RunRecord,
  to: RunState,
  error?: EventError | null,
): Promise<RunRecord> {
  const { store, clock, events } = state.options
  const patch: RunPatch = { state: to, finishedAt: new Date(clock.now()).toISOString() }
  if (error !== undefined) patch.error = error
  const stored = await store.updateRun(run.id, patch, await outboxOf(state, run, to, error ?? null))
  events.emit({
    type: 'run-finished',
    kind: kindOf(state, run.flow),
    flow: run.flow,
    runId: run.id,
    state: to,
    ...(stored.idempotencyKey !== null ? { idempotencyKey: stored.idempotencyKey } : {}),
    error: error ?? null,
  })
  return stored
}

/** A notification that cannot be composed must not keep the run from finishing: logged, left out. */
async function outboxOf(
  state: DriverState<unknown>,
  run: RunRecord,
  to: RunState,
  error: EventError | null,
): Promise<NewOutboxMessage[]> {
  const { outboxFor, logger } = state.options
  if (!outboxFor) return []
  try {
    return await outboxFor(run, to, error)
  } catch (e) {
    logger.error({ run: run.id, err: toBridgeError(e).message }, "could not compose the run's notifications")
    return []
  }
}

/** Listeners the run's signal may hold before Node warns: ~6 per file, up to 32 files in flight. */
const RUN_SIGNAL_LISTENERS = 200

function controlFor(state: DriverState<unknown>, runs: RunRecord[]): RunControl {
  const { tasks } = state
  const lostLease = new AbortController()
  for (const run of runs) {
    state.options.leases.hold(run.id, () => lostLease.abort(new BridgeError('CANCELLED', 'lease lost')))
  }
  const cancelled = AbortSignal.any(
    runs.map((run) => {
      const controller = new AbortController()
      state.cancels.set(run.id, controller)
      return controller.signal
    }),
  )
  const signal = AbortSignal.any([tasks.shutdown, lostLease.signal, cancelled])
  // Every file in flight listens on the run's signal at each layer it is in (pool wait, remote
  // operation, S3 upload, Salesforce call): at 4 concurrent files that passes Node's default of
  // 10 and logs a "possible memory leak" warning for listeners that are all removed again.
  setMaxListeners(RUN_SIGNAL_LISTENERS, signal)
  return {
    signal,
    shutdown: tasks.shutdown,
    draining: tasks.drain,
    lost: lostLease.signal,
    cancelled,
    stopped: () => tasks.shutdown.aborted || tasks.drain.aborted || lostLease.signal.aborted,
    finish: (run, to, error) => finishRun(state, run, to, error),
    progress: state.progress,
  }
}

/** Drives the runs with the kind's function, then lets them go: counts, events, leases. */
async function driveAndRelease<Hint>(
  state: DriverState<Hint>,
  runs: RunRecord[],
  hint: Hint | undefined,
): Promise<void> {
  const { events, leases, logger } = state.options
  const control = controlFor(state, runs)
  for (const run of runs) {
    state.perFlow.set(run.flow, (state.perFlow.get(run.flow) ?? 0) + 1)
    events.emit({ type: 'run-started', kind: kindOf(state, run.flow), flow: run.flow, runId: run.id })
  }
  try {
    await state.options.drive(runs, control, hint)
  } catch (error) {
    logger.error(
      { runs: runs.map((r) => r.id), err: toBridgeError(error).message },
      'run driver stopped unexpectedly',
    )
  } finally {
    for (const run of runs) {
      state.perFlow.set(run.flow, (state.perFlow.get(run.flow) ?? 1) - 1)
      state.cancels.delete(run.id)
      state.progress.forget(run.id)
      events.emit({ type: 'run-settled', kind: kindOf(state, run.flow), flow: run.flow, runId: run.id })
      await leases.release(run.id)
    }
  }
}

export function createRunDriver<Hint = never>(options: RunDriverOptions<Hint>): RunDriver<Hint> {
  const { leases, logger } = options
  const state: DriverState<Hint> = {
    options,
    tasks: createTaskSet(),
    progress: createProgressTracker(options.events),
    cancels: new Map(),
    perFlow: new Map(),
  }
  const { tasks } = state
  let claimTimer: NodeJS.Timeout | undefined
  let claiming: Promise<void> | null = null
  let started = false
  /** close() began: claims still in flight give their runs back instead of starting them. */
  let closing = false

  function launch(runs: RunRecord[], hint?: Hint): void {
    const fresh = runs.filter((run) => !tasks.has(run.id))
    if (fresh.length === 0) return
    const ids = fresh.map((run) => run.id)
    if (closing || !tasks.start(ids, () => driveAndRelease(state, fresh, hint))) {
      for (const id of ids) void leases.release(id)
      return
    }
    // A slot is free once it ends: take the next waiting run then rather than at the next claim tick.
    void tasks.settled(ids[0] as string).then(kick)
  }

  async function claim(ids?: readonly string[], hint?: Hint): Promise<void> {
    const room = (options.maxActiveRuns ?? 50) - tasks.size
    if (closing || room <= 0) return
    // Read at every claim: a configuration reload may have added or removed flows.
    const claimed = await leases.claim([...options.flows.keys()], ['queued', 'running'], {
      ...(ids ? { ids } : {}),
      limit: room,
    })
    for (const run of claimed) {
      if (!options.flows.has(run.flow)) {
        await leases.release(run.id)
        continue
      }
      if (!ids) {
        logger.info({ run: run.id, flow: run.flow }, 'resuming run')
        await options.beforeResume?.(run)
      }
      launch([run], hint)
    }
  }

  /** Claims in the background (one claim at a time); errors are logged, the next tick tries again. */
  function kick(): void {
    if (closing || !started) return
    claiming ??= claim()
      .catch((error) => logger.warn({ err: toBridgeError(error).message }, 'could not claim runs'))
      .finally(() => {
        claiming = null
      })
  }

  return {
    async start() {
      started = true
      await claim()
      const every = options.claimIntervalMs ?? Math.max(100, Math.floor(leases.leaseMs / 2))
      claimTimer = setInterval(kick, every)
      claimTimer.unref()
    },
    claim,
    launch,
    isDriving: (runId) => tasks.has(runId),
    cancel: (runId, reason) => cancelRun(state, runId, reason),
    settled: (runId) => tasks.settled(runId),
    inFlightBytes: (runId) => state.progress.inFlightBytes(runId),
    activeRuns: (flow) => state.perFlow.get(flow) ?? 0,
    async close(closeOptions = {}) {
      closing = true
      clearInterval(claimTimer)
      await claiming
      await tasks.close(closeOptions.graceMs ?? 0)
    },
  }
}

async function cancelRun(state: DriverState<unknown>, runId: string, reason: string): Promise<boolean> {
  const controller = state.cancels.get(runId)
  if (!controller) return false
  controller.abort(new BridgeError('CANCELLED', reason))
  await state.tasks.settled(runId)
  return true
}
