/**
 * Built-in cron schedules for the single-instance default: one timer per
 * flow that has `schedule`. A tick while the flow's previous run is still
 * going is skipped rather than stacked.
 */
import { Cron } from 'croner'
import type { Logger } from 'pino'
import { toBridgeError } from '../../domain/errors.js'

export interface ScheduledRunStarter {
  hasActiveRun(flow: string): boolean
  startRun(flow: string, options: { trigger: 'schedule' }): Promise<unknown>
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
        if (engine.hasActiveRun(flow.name)) {
          logger.info({ flow: flow.name }, 'scheduled run skipped: the previous run is still active')
          return
        }
        try {
          await engine.startRun(flow.name, { trigger: 'schedule' })
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
