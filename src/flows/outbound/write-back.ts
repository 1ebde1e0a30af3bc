/**
 * Write-back: the job's outcome recorded on its Salesforce records, one
 * collections PATCH per job with the fields configured for that outcome.
 */
import type { OutboundFlow } from '../../config/schema.js'
import { BridgeError, toBridgeError } from '../../domain/errors.js'
import { renderOutboundTemplate } from '../../domain/outbound-template.js'
import type { ItemRecord, RunRecord, RunState } from '../../ports/store.js'
import type { RunControl } from '../../runs/driver.js'
import type { OutboundDeps } from './deps.js'
import { requestOf } from './request.js'
import { retryJobStep } from './retries.js'
import { templateValues } from './templates.js'
import { timeZoneOf } from './windows.js'

/** The write-back fields for how the job ended (none configured: no write-back). */
export function writeBackFields(flow: OutboundFlow, outcome: RunState): Record<string, string> | undefined {
  if (!flow.writeBack) return undefined
  if (outcome === 'nothing_to_export') return flow.writeBack.onNothingToExport
  return outcome === 'succeeded' ? flow.writeBack.onSuccess : flow.writeBack.onFailure
}

/** The fields' templates rendered for this job: its failures, its files delivered. */
function renderFields(
  deps: OutboundDeps,
  flow: OutboundFlow,
  job: RunRecord,
  items: ItemRecord[],
  fields: Record<string, string>,
): Record<string, string> {
  const failed = items.filter((i) => i.state === 'failed')
  const error = failed.map((i) => `${i.name}: ${i.error?.code ?? ''} ${i.error?.message ?? ''}`).join('; ')
  const ctx = {
    values: {
      ...templateValues(flow, job, null, null),
      error: error.slice(0, 255),
      'file.count': items.filter((i) => i.state === 'done').length,
    },
    record: null,
    now: deps.clock.now(),
    timeZone: timeZoneOf(flow),
  }
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, renderOutboundTemplate(v, ctx)]))
}

/**
 * Writes the fields for the job's outcome. Transient faults are retried
 * with the flow's backoff; what is left is returned as a WRITE_BACK_FAILED
 * error (null when it worked).
 */
export async function writeBack(
  deps: OutboundDeps,
  flow: OutboundFlow,
  job: RunRecord,
  items: ItemRecord[],
  outcome: RunState,
  control: RunControl,
): Promise<BridgeError | null> {
  const fields = writeBackFields(flow, outcome)
  if (!fields) return null
  const recordIds = [
    ...new Set([...(requestOf(job).recordIds ?? []), ...items.map((i) => i.target?.recordId ?? '')]),
  ].filter((id) => id !== '')
  if (recordIds.length === 0) return null
  const values = renderFields(deps, flow, job, items, fields)
  const { signal } = control
  try {
    const results = await retryJobStep(deps, flow, control, { name: 'write-back', jobId: job.id }, () =>
      deps.sf.updateRecords(
        flow.source.object,
        recordIds.map((Id) => ({ Id, ...values })),
        { signal },
      ),
    )
    const bad = results.filter((r) => !r.success)
    if (bad.length === 0) return null
    const first = bad[0]?.errors[0]
    return new BridgeError(
      'WRITE_BACK_FAILED',
      `write-back failed for ${bad.length} of ${results.length} record(s): ${first?.statusCode ?? ''} ${first?.message ?? ''}`.trim(),
    )
  } catch (error) {
    if (signal.aborted) throw error
    return new BridgeError('WRITE_BACK_FAILED', `write-back failed: ${toBridgeError(error).message}`)
  }
}

/** A failed write-back shows in the job's state: delivered but not recorded is a partial failure. */
export function stateAfterWriteBack(outcome: RunState, writeBackError: BridgeError | null): RunState {
  if (!writeBackError) return outcome
  if (outcome === 'succeeded') return 'partially_failed'
  if (outcome === 'nothing_to_export') return 'failed'
  return outcome
}
