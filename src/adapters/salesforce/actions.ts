/** Invocable actions and single-record creates (platform events are published as sObject creates). */
import { soqlIdentifier } from '../../domain/soql.js'
import type { ActionResult, SalesforceCallOptions, SaveResult } from '../../ports/salesforce.js'
import { request, runCall, type SalesforceCalls } from './calls.js'

type RawActionResult = { actionName?: unknown; isSuccess?: unknown; errors?: unknown; outputValues?: unknown }

function toActionResult(raw: RawActionResult): ActionResult {
  const errors = Array.isArray(raw.errors)
    ? raw.errors.map((e: { statusCode?: unknown; message?: unknown }) => ({
        ...(typeof e.statusCode === 'string' ? { statusCode: e.statusCode } : {}),
        message: typeof e.message === 'string' ? e.message : String(e.message ?? ''),
      }))
    : []
  return {
    actionName: typeof raw.actionName === 'string' ? raw.actionName : '',
    isSuccess: raw.isSuccess === true,
    errors,
    outputValues:
      raw.outputValues !== null && typeof raw.outputValues === 'object'
        ? (raw.outputValues as Record<string, unknown>)
        : null,
  }
}

/** POST /actions/standard/<action> with `{inputs}`; one result per input, in order. */
export async function invokeStandardAction(
  calls: SalesforceCalls,
  action: string,
  inputs: Record<string, unknown>[],
  options?: SalesforceCallOptions,
): Promise<ActionResult[]> {
  const name = soqlIdentifier(action)
  const raw = await runCall(calls, `action ${name}`, 'POST', options, () =>
    request<RawActionResult[]>(calls.session, 'POST', `/actions/standard/${name}`, { inputs }),
  )
  return Array.isArray(raw) ? raw.map(toActionResult) : []
}

/** POST /sobjects/<sobject>/: one record (a platform event is published this way). */
export async function createRecord(
  calls: SalesforceCalls,
  sobject: string,
  fields: Record<string, unknown>,
  options?: SalesforceCallOptions,
): Promise<SaveResult> {
  const type = soqlIdentifier(sobject)
  const raw = await runCall(calls, `create ${type}`, 'POST', options, () =>
    request<{ id?: unknown; success?: unknown; errors?: unknown }>(
      calls.session,
      'POST',
      `/sobjects/${type}/`,
      fields,
    ),
  )
  const errors = Array.isArray(raw.errors)
    ? raw.errors.map((e: { message?: unknown }) => ({ message: String(e.message ?? e) }))
    : []
  return { id: typeof raw.id === 'string' ? raw.id : null, success: raw.success === true, errors }
}
