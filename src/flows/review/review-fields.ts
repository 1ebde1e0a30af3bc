/**
 * The review fields on the reviewed record: what their templates may use,
 * which sObject they are on, and setting them (after a rejection and after
 * each resubmission).
 */
import type { InboundFlow } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import { renderTemplate } from '../../domain/templates.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { ReviewRecord } from '../../ports/store.js'

/** The values review-field templates may use. */
export function reviewTemplateValues(review: ReviewRecord, now: number): Record<string, string> {
  return {
    correlationId: review.correlationId,
    reason: review.reason,
    reasonCode: review.reasonCode,
    'file.name': review.originalName,
    'file.id': review.fileId,
    'record.id': review.recordId,
    now: new Date(now).toISOString(),
  }
}

/** Sets review fields on the reviewed record; throws when Salesforce refuses them. */
export async function updateReviewFields(
  sf: SalesforceApi,
  review: ReviewRecord,
  fields: Record<string, string> | undefined,
  now: number,
  signal?: AbortSignal,
): Promise<void> {
  if (!fields || Object.keys(fields).length === 0 || !review.object) return
  const values = reviewTemplateValues(review, now)
  const record: Record<string, unknown> = { Id: review.recordId }
  for (const [field, template] of Object.entries(fields)) record[field] = renderTemplate(template, values)
  const [result] = await sf.updateRecords(review.object, [record], signal ? { signal } : {})
  if (result && !result.success) {
    throw new BridgeError(
      'SALESFORCE_ERROR',
      `review fields on ${review.object} ${review.recordId}: ${result.errors.map((e) => `${e.statusCode ?? 'ERROR'}: ${e.message}`).join('; ')}`,
      { details: { errors: result.errors } },
    )
  }
}

/** The sObject whose review fields are set: configured, or the object every match rule looks up. */
export function reviewObjectOf(flow: InboundFlow): string | null {
  if (flow.review?.object) return flow.review.object
  const objects = new Set(flow.match.map((rule) => rule.object))
  return objects.size === 1 ? ([...objects][0] as string) : null
}
