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
  stop(): void
}

export function startCronScheduler(
  flows: readonly { name: string; schedule?: { cron: string; timezone: string } | undefined }[],
  engine: ScheduledRunStarter,
  logger: Logger,
): CronScheduler {
  const jobs = new Map<string, Cron>()
  for (const flow of flows) {
    if (!flow.schedule) continue
    const job = new Cron(
      flow.schedule.cron,
      { timezone: flow.schedule.timezone, protect: true },
      async () => {
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
      },
    )
    jobs.set(flow.name, job)
  }
  return {
    nextRuns: () =>
      Object.fromEntries([...jobs].map(([name, job]) => [name, job.nextRun()?.toISOString() ?? null])),
    stop() {
      for (const job of jobs.values()) job.stop()
      jobs.clear()
    },
  }
}
