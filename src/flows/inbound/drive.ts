/**
 * Drives one source-folder run (inbound transfers and status files alike):
 * marked running, the flow checked against the org's schema, the source
 * listed and its files claimed (the listing retried with the flow's
 * backoff), then rounds until every item ended. A fault that ends the run
 * fails it; a stop (drain, shutdown, lost lease) leaves it for whoever
 * drives it next.
 */
import { toBridgeError } from '../../domain/errors.js'
import type { RunRecord } from '../../ports/store.js'
import { withRetries } from '../../runs/retry.js'
import { driveRounds } from '../../runs/rounds.js'
import { CANCELLED_BY_OPERATOR, letGoOfCancelledFiles } from './cancel.js'
import { claimFiles, letGoOfFiles } from './claim.js'
import type { RunContext, SourceFolderFlow } from './context.js'
import { round } from './round.js'

/** How the driver launches a run: an operator's retry joins the run's items without listing the source again. */
export interface DriveHint {
  withDiscovery: boolean
}

export async function driveRun(
  ctx: RunContext,
  flow: SourceFolderFlow,
  run: RunRecord,
  hint: DriveHint | undefined,
): Promise<void> {
  const { store, clock, control } = ctx
  try {
    await store.updateRun(run.id, {
      state: 'running',
      startedAt: run.startedAt ?? new Date(clock.now()).toISOString(),
    })
    if (hint?.withDiscovery !== false) await discover(ctx, flow, run)
    await driveRounds(control, clock, () => round(ctx, flow, run))
  } catch (error) {
    // Stopped, not failed: after a shutdown the next start resumes it, after a lost lease its new owner does.
    if (control.stopped()) return
    if (control.cancelled.aborted) {
      await letGoOfCancelledFiles(store, run.id)
      await control.finish(run, 'cancelled', { ...CANCELLED_BY_OPERATOR })
      return
    }
    await failRun(ctx, flow, run, error)
  }
}

async function discover(ctx: RunContext, flow: SourceFolderFlow, run: RunRecord): Promise<void> {
  // A name the org does not have fails the run before any file is listed, let alone moved.
  if (flow.kind === 'inbound') await ctx.flowSchema?.assertConfigured(flow, ctx.control.shutdown)
  await withRetries(() => claimFiles(ctx, flow, run), {
    policy: flow.retry,
    clock: ctx.clock,
    signal: ctx.control.shutdown,
    defaultCode: 'REMOTE_IO',
    onRetry: (e, attempt) =>
      ctx.logger.warn({ flow: flow.name, code: e.code, attempt }, 'listing failed; retrying'),
  })
}

async function failRun(
  ctx: RunContext,
  flow: SourceFolderFlow,
  run: RunRecord,
  error: unknown,
): Promise<void> {
  let e = toBridgeError(error)
  if (e.code === 'FLOW_MISCONFIGURED' && flow.kind === 'inbound') e = await letGoOfFiles(ctx, flow, run.id, e)
  ctx.events.emit({ type: 'fault', flow: flow.name, code: e.code, runId: run.id })
  await ctx.control.finish(run, 'failed', { code: e.code, message: e.message })
}
