/**
 * Built-in cron schedules for the single-instance default: one timer per
 * flow that has `schedule`. A tick while the flow's previous run is still
 * going is skipped rather than stacked.
 */
import { Cron } from 'croner'
import type { Logger } from 'pino'
import { toBridgeError } from '../../domain/errors.js'
import { scheduleTickKey } from '../../domain/idempotency-keys.js'

export interface ScheduledRunStarter {
  hasActiveRun(flow: string): Promise<boolean>
  startRun(flow: string, options: { trigger: 'schedule'; idempotencyKey: string }): Promise<unknown>
}

/**
 * The tick a timer fired for: cron ticks fall on whole seconds and timers
 * fire a few milliseconds late, so every replica rounds to the same second.
 */
export function scheduledTick(firedAt: number): string {
  return new Date(Math.round(firedAt / 1000) * 1000).toISOString()
}

/** When a cron expression fires next after `from` (the console shows it; schedules off or not). */
export function nextTickOf(schedule: { cron: string; timezone: string }, from: Date): string | null {
  const job = new Cron(schedule.cron, { timezone: schedule.timezone, paused: true })
  try {
    return job.nextRun(from)?.toISOString() ?? null
  } finally {
    job.stop()
  }
}

export interface CronScheduler {
  /** Next fire time per scheduled flow. */
  nextRuns(): Record<string, string | null>
  /**
   * The schedules of these flows from now on (a configuration reload): a
   * flow whose schedule is unchanged keeps its timer, so no tick is missed.
   */
  replace(flows: readonly ScheduledFlow[]): void
  stop(): void
}

type ScheduledFlow = { name: string; schedule?: { cron: string; timezone: string } | undefined }

function scheduleJob(
  flow: ScheduledFlow & { schedule: { cron: string; timezone: string } },
  engine: ScheduledRunStarter,
  logger: Logger,
): Cron {
  return new Cron(flow.schedule.cron, { timezone: flow.schedule.timezone, protect: true }, async () => {
    const tick = scheduledTick(Date.now())
    try {
      if (await engine.hasActiveRun(flow.name)) {
        logger.info({ flow: flow.name }, 'scheduled run skipped: the previous run is still active')
        return
      }
      // One run per tick across replicas: every replica's timer fires, the idempotency key lets one create it.
      await engine.startRun(flow.name, {
        trigger: 'schedule',
        idempotencyKey: scheduleTickKey(flow.name, tick),
      })
    } catch (error) {
      const e = toBridgeError(error)
      logger.warn({ flow: flow.name, code: e.code, err: e.message }, 'scheduled run could not start')
    }
  })
}

export function startCronScheduler(
  flows: readonly ScheduledFlow[],
  engine: ScheduledRunStarter,
  logger: Logger,
): CronScheduler {
  const jobs = new Map<string, { job: Cron; schedule: string }>()
  const replace = (next: readonly ScheduledFlow[]) => {
    const wanted = new Map(
      next.flatMap((f) => (f.schedule ? [[f.name, { ...f, schedule: f.schedule }] as const] : [])),
    )
    for (const [name, { job, schedule }] of jobs) {
      const flow = wanted.get(name)
      if (flow && JSON.stringify(flow.schedule) === schedule) continue
      job.stop()
      jobs.delete(name)
    }
    for (const [name, flow] of wanted) {
      if (jobs.has(name)) continue
      jobs.set(name, { job: scheduleJob(flow, engine, logger), schedule: JSON.stringify(flow.schedule) })
    }
  }
  replace(flows)
  return {
    nextRuns: () =>
      Object.fromEntries([...jobs].map(([name, { job }]) => [name, job.nextRun()?.toISOString() ?? null])),
    replace,
    stop() {
      for (const { job } of jobs.values()) job.stop()
      jobs.clear()
    },
  }
}
