/**
 * Delivery windows: a flow with a window holds its jobs until the window's
 * cron time, then delivers every job due together, in one batch folder.
 */
import { Cron } from 'croner'
import type { Logger } from 'pino'
import type { OutboundFlow } from '../../config/schema.js'
import { toBridgeError } from '../../domain/errors.js'
import { formatDate, renderOutboundTemplate } from '../../domain/outbound-template.js'
import { sanitizeRemoteSegment } from '../../domain/remote-names.js'
import type { Clock } from '../../ports/clock.js'
import type { RunRecord, Store } from '../../ports/store.js'
import type { LeaseKeeper } from '../../runs/lease-keeper.js'

/** A window's jobs delivered together: the folder they share and the window's label. */
export interface Batch {
  folder: string
  label: string
}

export const timeZoneOf = (flow: OutboundFlow) => flow.window?.timezone ?? 'UTC'

/**
 * Each flow's next window, computed once and reused until it begins:
 * parsing the cron expression for every request cost a third of the
 * accept path's CPU. Reused only for times between the one it was computed
 * from and the window itself, so a clock set back recomputes it.
 */
export function createNextWindow(clock: Clock): (flow: OutboundFlow) => string | null {
  const windowCache = new Map<string, { from: number; at: number; iso: string }>()
  return (flow) => {
    if (!flow.window) return null
    const now = clock.now()
    const cached = windowCache.get(flow.name)
    if (cached && cached.from <= now && now < cached.at) return cached.iso
    const cron = new Cron(flow.window.cron, { timezone: flow.window.timezone, paused: true })
    const next = cron.nextRun(new Date(now))
    cron.stop()
    if (!next) return null
    windowCache.set(flow.name, { from: now, at: next.getTime(), iso: next.toISOString() })
    return next.toISOString()
  }
}

/** One cron timer per flow with a window, calling `release` at each window. */
export function startWindowTimers(
  flows: Iterable<OutboundFlow>,
  release: (flow: string) => Promise<unknown>,
  logger: Logger,
): Cron[] {
  const timers: Cron[] = []
  for (const flow of flows) {
    if (!flow.window) continue
    timers.push(
      new Cron(flow.window.cron, { timezone: flow.window.timezone, protect: true }, async () => {
        try {
          await release(flow.name)
        } catch (error) {
          logger.error({ flow: flow.name, err: toBridgeError(error).message }, 'delivery window failed')
        }
      }),
    )
  }
  return timers
}

/**
 * Claims the flow's jobs whose window has come and queues them, with the
 * batch folder they are delivered into. Every replica's window timer fires;
 * the claim gives each due job to one of them.
 */
export async function claimWindow(
  deps: { store: Store; clock: Clock; leases: LeaseKeeper },
  flow: OutboundFlow,
): Promise<{ jobs: RunRecord[]; batch: Batch } | null> {
  const now = deps.clock.now()
  const due = await deps.leases.claim([flow.name], ['waiting_for_window'], {
    dueBy: new Date(now).toISOString(),
    limit: flow.source.maxFilesPerJob * 10,
  })
  if (due.length === 0) return null
  const label = formatDate(now, 'yyyyMMdd-HHmm', timeZoneOf(flow))
  const ctx = {
    values: { flow: flow.name, window: label, 'job.id': (due[0] as RunRecord).id },
    record: null,
    now,
    timeZone: timeZoneOf(flow),
  }
  const folder = sanitizeRemoteSegment(
    renderOutboundTemplate(flow.window?.batchFolder ?? 'batch-{window}', ctx),
    flow.destination.replacement,
  )
  const jobs = await Promise.all(due.map((j) => deps.store.updateRun(j.id, { state: 'queued' })))
  return { jobs, batch: { folder, label } }
}
