/** Reads and Apex REST calls: describe, SOQL query (all pages), apex. */
import { isBridgeError } from '../../domain/errors.js'
import { soqlIdentifier } from '../../domain/soql.js'
import type { ObjectDescription, SalesforceCallOptions } from '../../ports/salesforce.js'
import { request, runCall, type SalesforceCalls } from './calls.js'
import { pathOf } from './session.js'

interface QueryPage {
  done: boolean
  nextRecordsUrl?: string
  records: Record<string, unknown>[]
}

function withoutAttributes(record: Record<string, unknown>): Record<string, unknown> {
  const { attributes: _attributes, ...rest } = record
  return rest
}

export async function describe(
  calls: SalesforceCalls,
  object: string,
  options?: SalesforceCallOptions,
): Promise<ObjectDescription | null> {
  const url = `/sobjects/${soqlIdentifier(object)}/describe`
  try {
    const raw = await runCall(calls, 'describe', 'GET', options, () =>
      request<{ name?: unknown; fields?: { name?: unknown }[]; keyPrefix?: unknown }>(
        calls.session,
        'GET',
        url,
      ),
    )
    const fields = (raw.fields ?? []).map((f) => f.name).filter((n): n is string => typeof n === 'string')
    return {
      name: typeof raw.name === 'string' ? raw.name : object,
      fields,
      keyPrefix: typeof raw.keyPrefix === 'string' ? raw.keyPrefix : null,
    }
  } catch (error) {
    if (isBridgeError(error) && error.details?.salesforceCode === 'NOT_FOUND') return null
    throw error
  }
}

export async function query<T extends Record<string, unknown>>(
  calls: SalesforceCalls,
  soql: string,
  options?: SalesforceCallOptions,
): Promise<T[]> {
  const records: T[] = []
  let url: string | undefined = `/query?q=${encodeURIComponent(soql)}`
  let page = 0
  while (url) {
    const current: string = url
    const result = await runCall(calls, page === 0 ? 'query' : 'queryMore', 'GET', options, () =>
      request<QueryPage>(calls.session, 'GET', current),
    )
    for (const record of result.records ?? []) records.push(withoutAttributes(record) as T)
    url = result.done ? undefined : result.nextRecordsUrl
    page++
  }
  return records
}

export async function apex<T>(
  calls: SalesforceCalls,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  options?: SalesforceCallOptions,
): Promise<T> {
  const url = `/services/apexrest${path.startsWith('/') ? path : `/${path}`}`
  const sendBody = method === 'GET' || method === 'DELETE' ? undefined : body
  return runCall(calls, `apex ${method} ${pathOf(path)}`, method, options, () =>
    request<T>(calls.session, method, url, sendBody),
  )
}
