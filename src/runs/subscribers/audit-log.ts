/**
 * The audit trail in the log: one info line per file outcome (done, skipped
 * or failed), with what an auditor asks of it. A retry is not an outcome, so
 * it has no line here; `GET /v1/audit` answers the same outcomes from the
 * store. Paths, record ids and digests only: no credential reaches an item.
 */
import type { Logger } from 'pino'
import type { RunEventOf, RunEvents } from '../events.js'

export function logFileOutcome(logger: Logger, event: RunEventOf<'item-finished'>): void {
  const { audit } = event
  if (audit === undefined || event.outcome === 'retrying') return
  const { kind, message, ...fields } = audit
  logger.info(
    {
      kind,
      flow: event.flow,
      run: event.runId,
      item: event.itemId,
      outcome: event.outcome,
      ...fields,
      ...(message !== null ? { reason: message } : {}),
    },
    'file outcome',
  )
}

export function subscribeAuditLog(events: RunEvents, logger: Logger): () => void {
  return events.on('item-finished', (event) => logFileOutcome(logger, event))
}
