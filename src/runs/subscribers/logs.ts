/**
 * The run lifecycle in the log: a run's end at info (warn when it did not
 * succeed, error when it failed outright). Faults inside a run are logged
 * where they happen, with their context.
 */
import type { Logger } from 'pino'
import type { RunEventOf, RunEvents } from '../events.js'

const LABEL = { inbound: 'run', status: 'run', outbound: 'export job', review: 'rejection' } as const

export function logRunFinished(logger: Logger, event: RunEventOf<'run-finished'>): void {
  const fields = {
    kind: event.kind,
    flow: event.flow,
    run: event.runId,
    state: event.state,
    code: event.error?.code ?? null,
    ...(event.idempotencyKey !== undefined ? { idempotencyKey: event.idempotencyKey } : {}),
    ...(event.error ? { err: event.error.message } : {}),
  }
  const what = LABEL[event.kind]
  if (event.state === 'failed') logger.error(fields, `${what} failed`)
  else if (event.state === 'succeeded') logger.info(fields, `${what} finished`)
  else logger.warn(fields, `${what} ended ${event.state}`)
}

export function subscribeLogs(events: RunEvents, logger: Logger): () => void {
  return events.on('run-finished', (event) => logRunFinished(logger, event))
}
