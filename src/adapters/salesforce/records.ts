/** sObject Collections: create, update and delete records in batches, never all-or-none. */
import { BridgeError } from '../../domain/errors.js'
import { soqlIdentifier } from '../../domain/soql.js'
import type { SalesforceCallOptions, SaveResult } from '../../ports/salesforce.js'
import { request, runCall, type SalesforceCalls } from './calls.js'

/** sObject Collections take at most 200 records per request. */
const COLLECTION_CHUNK = 200

type RawSaveResult = { id?: unknown; success?: unknown; errors?: unknown }

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

function toSaveResult(raw: RawSaveResult): SaveResult {
  const errors = Array.isArray(raw.errors)
    ? raw.errors.map((e: { statusCode?: unknown; message?: unknown; fields?: unknown }) => ({
        ...(typeof e.statusCode === 'string' ? { statusCode: e.statusCode } : {}),
        message: typeof e.message === 'string' ? e.message : String(e.message ?? ''),
        ...(Array.isArray(e.fields) ? { fields: e.fields.map(String) } : {}),
      }))
    : []
  return { id: typeof raw.id === 'string' ? raw.id : null, success: raw.success === true, errors }
}

/** One collections request per 200 records (POST creates, PATCH updates); results in order. */
async function saveInChunks(
  calls: SalesforceCalls,
  method: 'POST' | 'PATCH',
  sobject: string,
  records: Record<string, unknown>[],
  options?: SalesforceCallOptions,
): Promise<SaveResult[]> {
  const type = soqlIdentifier(sobject)
  const label = method === 'POST' ? 'create records' : 'update records'
  const results: SaveResult[] = []
  for (const part of chunk(records, COLLECTION_CHUNK)) {
    const body = { allOrNone: false, records: part.map((r) => ({ attributes: { type }, ...r })) }
    const raw = await runCall(calls, label, method, options, () =>
      request<RawSaveResult[]>(calls.session, method, '/composite/sobjects', body),
    )
    results.push(...(Array.isArray(raw) ? raw.map(toSaveResult) : []))
  }
  return results
}

export function createRecords(
  calls: SalesforceCalls,
  sobject: string,
  records: Record<string, unknown>[],
  options?: SalesforceCallOptions,
): Promise<SaveResult[]> {
  return saveInChunks(calls, 'POST', sobject, records, options)
}

export async function updateRecords(
  calls: SalesforceCalls,
  sobject: string,
  records: Record<string, unknown>[],
  options?: SalesforceCallOptions,
): Promise<SaveResult[]> {
  for (const record of records) {
    if (typeof record.Id !== 'string')
      throw new BridgeError('VALIDATION_FAILED', 'updateRecords needs an Id on every record')
  }
  return saveInChunks(calls, 'PATCH', sobject, records, options)
}

export async function deleteRecords(
  calls: SalesforceCalls,
  ids: string[],
  options?: SalesforceCallOptions,
): Promise<SaveResult[]> {
  const results: SaveResult[] = []
  for (const part of chunk(ids, COLLECTION_CHUNK)) {
    const url = `/composite/sobjects?ids=${part.map(encodeURIComponent).join(',')}&allOrNone=false`
    const raw = await runCall(calls, 'delete records', 'DELETE', options, () =>
      request<RawSaveResult[]>(calls.session, 'DELETE', url),
    )
    results.push(...(Array.isArray(raw) ? raw.map(toSaveResult) : []))
  }
  return results
}
