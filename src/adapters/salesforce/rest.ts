/** Reads and Apex REST calls: describe, SOQL query (all pages), apex. */
import { isBridgeError } from '../../domain/errors.js'
import { soqlIdentifier } from '../../domain/soql.js'
import type { ObjectDescription, SalesforceCallOptions } from '../../ports/salesforce.js'
import { request, runCall, type SalesforceCalls } from './calls.js'
import { pathOf } from './session.js'

interface QueryPage {
  totalSize?: number
  done: boolean
  nextRecordsUrl?: string
  records: Record<string, unknown>[]
}

interface RawField {
  name?: unknown
  type?: unknown
  createable?: unknown
  updateable?: unknown
}

interface RawDescribe {
  name?: unknown
  keyPrefix?: unknown
  fields?: RawField[]
  createable?: unknown
  updateable?: unknown
  deletable?: unknown
  queryable?: unknown
}

const flag = (value: unknown): boolean | null => (typeof value === 'boolean' ? value : null)

/** GET of any REST resource (see SalesforceApi.get). */
export function get<T>(calls: SalesforceCalls, path: string, options?: SalesforceCallOptions): Promise<T> {
  return runCall(calls, `GET ${pathOf(path)}`, 'GET', options, () => request<T>(calls.session, 'GET', path))
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
      request<RawDescribe>(calls.session, 'GET', url),
    )
    const fieldDetails = (raw.fields ?? [])
      .filter((f): f is RawField & { name: string } => typeof f.name === 'string')
      .map((f) => ({
        name: f.name,
        type: typeof f.type === 'string' ? f.type : null,
        createable: flag(f.createable),
        updateable: flag(f.updateable),
      }))
    return {
      name: typeof raw.name === 'string' ? raw.name : object,
      fields: fieldDetails.map((f) => f.name),
      keyPrefix: typeof raw.keyPrefix === 'string' ? raw.keyPrefix : null,
      fieldDetails,
      access: {
        createable: flag(raw.createable),
        updateable: flag(raw.updateable),
        deletable: flag(raw.deletable),
        queryable: flag(raw.queryable),
      },
    }
  } catch (error) {
    if (isBridgeError(error) && error.details?.salesforceCode === 'NOT_FOUND') return null
    throw error
  }
}

export function query<T extends Record<string, unknown>>(
  calls: SalesforceCalls,
  soql: string,
  options?: SalesforceCallOptions,
): Promise<T[]> {
  return queryPages<T>(calls, soql, Number.POSITIVE_INFINITY, options) as Promise<T[]>
}

/** All the query's records, or null (no further page read) once it is known to have more than `maxRecords`. */
export function queryAtMost<T extends Record<string, unknown>>(
  calls: SalesforceCalls,
  soql: string,
  maxRecords: number,
  options?: SalesforceCallOptions,
): Promise<T[] | null> {
  return queryPages<T>(calls, soql, maxRecords, options)
}

async function queryPages<T extends Record<string, unknown>>(
  calls: SalesforceCalls,
  soql: string,
  maxRecords: number,
  options?: SalesforceCallOptions,
): Promise<T[] | null> {
  const records: T[] = []
  let url: string | undefined = `/query?q=${encodeURIComponent(soql)}`
  let page = 0
  while (url) {
    const current: string = url
    const result = await runCall(calls, page === 0 ? 'query' : 'queryMore', 'GET', options, () =>
      request<QueryPage>(calls.session, 'GET', current),
    )
    // totalSize comes with every page; without it, the records read so far tell.
    if (typeof result.totalSize === 'number' && result.totalSize > maxRecords) return null
    for (const record of result.records ?? []) records.push(withoutAttributes(record) as T)
    if (records.length > maxRecords) return null
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
