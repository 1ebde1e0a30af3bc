/**
 * What an export job is asked to deliver, checked before it is accepted:
 * ids that look like Salesforce ids, of the flow's object, and a hash that
 * the Idempotency-Key check compares.
 */
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import type { OutboundFlow } from '../../config/schema.js'
import { BridgeError, isTransient, toBridgeError } from '../../domain/errors.js'
import { looksLikeRecordId } from '../../domain/record-ids.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { RunRecord } from '../../ports/store.js'

export interface ExportRequest {
  recordIds?: string[]
  fileIds?: string[]
  metadata?: Record<string, string>
}

export function requestOf(job: RunRecord): ExportRequest {
  return (job.request ?? {}) as ExportRequest
}

/** Same request, same hash: the Idempotency-Key check compares these. */
export function exportRequestHash(flow: string, request: ExportRequest): string {
  const canonical = JSON.stringify({
    flow,
    recordIds: [...(request.recordIds ?? [])].sort(),
    fileIds: [...(request.fileIds ?? [])].sort(),
    metadata: Object.fromEntries(Object.entries(request.metadata ?? {}).sort()),
  })
  return createHash('sha256').update(canonical).digest('hex')
}

export function validateRequest(request: ExportRequest): void {
  const recordIds = request.recordIds ?? []
  const fileIds = request.fileIds ?? []
  if (recordIds.length === 0 && fileIds.length === 0) {
    throw new BridgeError('VALIDATION_FAILED', 'body: recordIds or fileIds must name at least one id', {
      details: { field: 'body.recordIds' },
    })
  }
  for (const [field, ids] of [
    ['recordIds', recordIds],
    ['fileIds', fileIds],
  ] as const) {
    ids.forEach((id, i) => {
      if (!looksLikeRecordId(id)) {
        throw new BridgeError(
          'VALIDATION_FAILED',
          `body.${field}[${i}]: "${id}" is not a Salesforce record id`,
          {
            details: { field: `body.${field}[${i}]` },
          },
        )
      }
    })
  }
}

/** Refuses a record of another object than the flow's (an Account id sent to an Opportunity flow). */
export type RecordObjectCheck = (flow: OutboundFlow, request: ExportRequest) => Promise<void>

export function createRecordObjectCheck(sf: SalesforceApi, logger: Logger): RecordObjectCheck {
  /**
   * Each object's id prefix, described once per process. A transient failure
   * is asked again next time; a permanent one (no such object: a
   * configuration fault reported elsewhere) is remembered as "unknown".
   */
  const keyPrefixes = new Map<string, Promise<string | null>>()

  function keyPrefixOf(object: string): Promise<string | null> {
    let prefix = keyPrefixes.get(object)
    if (!prefix) {
      // An HTTP request is waiting: at the API limit this fails at once instead of waiting for the limit to lift.
      prefix = sf
        .describe(object, { whenLimited: 'fail' })
        .then((described) => described?.keyPrefix ?? null)
        .catch((error: unknown) => {
          if (isTransient(error)) keyPrefixes.delete(object)
          throw error
        })
      keyPrefixes.set(object, prefix)
    }
    return prefix
  }

  return async (flow, request) => {
    const ids = request.recordIds ?? []
    if (ids.length === 0) return
    let prefix: string | null
    try {
      prefix = await keyPrefixOf(flow.source.object)
    } catch (error) {
      // Not knowing the prefix must not refuse work: such a record simply has no files of the flow's file object.
      const e = toBridgeError(error)
      if (!isTransient(e)) keyPrefixes.set(flow.source.object, Promise.resolve(null))
      logger.warn(
        { flow: flow.name, code: e.code, err: e.message },
        'record ids not checked against the object',
      )
      return
    }
    if (!prefix) return
    ids.forEach((id, i) => {
      if (id.slice(0, 3) === prefix) return
      throw new BridgeError(
        'VALIDATION_FAILED',
        `body.recordIds[${i}]: "${id}" is not a ${flow.source.object} record (its id prefix is ${id.slice(0, 3)}, ${flow.source.object} ids begin with ${prefix})`,
        { details: { field: `body.recordIds[${i}]`, reason: 'WRONG_OBJECT' } },
      )
    })
  }
}
