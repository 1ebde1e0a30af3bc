/** Routes under /services/data/vXX.X: query, sObjects, collections, composite, limits. */
import { type ApiResult, sfError } from './http.js'
import type { SandboxNotifications } from './notifications.js'
import { batchSizeFrom, QueryApi } from './query-api.js'
import { SObjectApi } from './sobject-api.js'
import type { RecordStore } from './store.js'

export interface DataRequest {
  method: string
  /** path after /services/data/vXX.X, e.g. /sobjects/Account/001… */
  subPath: string
  search: URLSearchParams
  queryOptionsHeader?: string
  body: unknown
  apiVersion: string
}

export interface UsageView {
  used: number
  limit: number
}

const COMPOSITE_LIMIT = 25
const DATA_PATH = /^\/services\/data\/v(\d+\.\d+)(\/.*)?$/

export function parseDataPath(pathname: string): { apiVersion: string; subPath: string } | undefined {
  const match = DATA_PATH.exec(pathname)
  return match ? { apiVersion: match[1]!, subPath: (match[2] ?? '').replace(/\/$/, '') } : undefined
}

/** Which counter (and fault target) a request belongs to. */
export function dataKind(
  subPath: string,
): 'query' | 'queryMore' | 'sobject' | 'composite' | 'limits' | undefined {
  if (/^\/query(All)?$/.test(subPath)) return 'query'
  if (/^\/query(All)?\/[^/]+$/.test(subPath)) return 'queryMore'
  if (subPath.startsWith('/sobjects/')) return 'sobject'
  if (subPath === '/composite' || subPath.startsWith('/composite/sobjects')) return 'composite'
  if (subPath === '/limits') return 'limits'
  return undefined
}

export class DataApi {
  private readonly queries: QueryApi
  private apiVersion = '63.0'
  private readonly sobjects: SObjectApi

  constructor(
    private readonly store: RecordStore,
    private readonly usage: () => UsageView,
    fieldTypes: Readonly<Record<string, string>>,
    private readonly notifications: SandboxNotifications,
  ) {
    this.queries = new QueryApi(store)
    this.sobjects = new SObjectApi(store, () => this.apiVersion, fieldTypes)
  }

  handle(request: DataRequest): ApiResult {
    this.apiVersion = request.apiVersion
    const { method, subPath, search } = request
    const parts = subPath.split('/').slice(1).map(decodeURIComponent)
    const [head, second, third, fourth] = parts
    if ((head === 'query' || head === 'queryAll') && method === 'GET') {
      if (second !== undefined) return this.queries.queryMore(second, request.apiVersion)
      const batchSize = batchSizeFrom(request.queryOptionsHeader)
      return this.queries.query(search.get('q'), head === 'queryAll', batchSize, request.apiVersion)
    }
    if (head === 'sobjects' && second === undefined && method === 'GET') return this.sobjects.describeGlobal()
    if (head === 'actions' && second === 'standard' && third === 'emailSimple' && method === 'POST') {
      return this.notifications.emailSimple(request.body)
    }
    if (head === 'sobjects' && second?.endsWith('__e') && third === undefined && method === 'POST') {
      return this.notifications.publish(second, request.body)
    }
    if (head === 'sobjects' && second) return this.routeSObject(method, second, third, fourth, request)
    if (head === 'composite' && second === undefined && method === 'POST') return this.composite(request)
    if (head === 'composite' && second === 'sobjects') return this.routeCollection(method, request)
    if (head === 'limits' && method === 'GET') {
      const { used, limit } = this.usage()
      return { status: 200, body: { DailyApiRequests: { Max: limit, Remaining: Math.max(0, limit - used) } } }
    }
    return sfError(404, 'NOT_FOUND', 'The requested resource does not exist')
  }

  private routeSObject(
    method: string,
    typeName: string,
    id: string | undefined,
    extra: string | undefined,
    request: DataRequest,
  ): ApiResult {
    if (extra !== undefined) return sfError(404, 'NOT_FOUND', 'The requested resource does not exist')
    if (id === 'describe' && method === 'GET') return this.sobjects.describe(typeName)
    if (id === undefined) {
      return method === 'POST' ? this.sobjects.create(typeName, request.body) : methodNotAllowed(method)
    }
    switch (method) {
      case 'GET':
        return this.sobjects.read(typeName, id, request.search.get('fields'))
      case 'PATCH':
        return this.sobjects.update(typeName, id, request.body)
      case 'DELETE':
        return this.sobjects.remove(typeName, id)
      default:
        return methodNotAllowed(method)
    }
  }

  private routeCollection(method: string, request: DataRequest): ApiResult {
    switch (method) {
      case 'POST':
        return this.sobjects.saveCollection(request.body, 'create')
      case 'PATCH':
        return this.sobjects.saveCollection(request.body, 'update')
      case 'DELETE': {
        const ids = (request.search.get('ids') ?? '').split(',').filter((id) => id !== '')
        return this.sobjects.deleteCollection(ids, request.search.get('allOrNone') === 'true')
      }
      default:
        return methodNotAllowed(method)
    }
  }

  /** POST …/composite: subrequests run in order, `@{ref.field}` reads earlier answers, allOrNone rolls back. */
  private composite(request: DataRequest): ApiResult {
    const body = request.body as { allOrNone?: unknown; compositeRequest?: unknown } | null
    const subrequests = body?.compositeRequest
    if (!Array.isArray(subrequests) || subrequests.length === 0) {
      return sfError(400, 'JSON_PARSER_ERROR', 'compositeRequest must be a non-empty array')
    }
    if (subrequests.length > COMPOSITE_LIMIT) {
      return sfError(
        400,
        'INVALID_BATCH_REQUEST',
        `Composite request can contain at most ${COMPOSITE_LIMIT} subrequests`,
      )
    }
    const allOrNone = body?.allOrNone === true
    const restore = allOrNone ? this.store.snapshot() : undefined
    const answers = new Map<string, unknown>()
    const responses: {
      body: unknown
      httpHeaders: Record<string, string>
      httpStatusCode: number
      referenceId: string
    }[] = []
    let failed = false
    for (const raw of subrequests as Record<string, unknown>[]) {
      const referenceId = String(raw.referenceId ?? '')
      if (failed && allOrNone) {
        responses.push(
          halted(
            referenceId,
            'The transaction was rolled back since another operation in the same transaction failed.',
          ),
        )
        continue
      }
      const result = this.runSubrequest(raw, answers, request.apiVersion)
      if (result.status >= 400) failed = true
      answers.set(referenceId, result.body)
      responses.push({
        body: result.body ?? null,
        httpHeaders: {},
        httpStatusCode: result.status,
        referenceId,
      })
    }
    if (failed && restore) {
      restore()
      for (const [i, response] of responses.entries()) {
        if (response.httpStatusCode < 400) {
          responses[i] = halted(
            response.referenceId,
            'The transaction was rolled back since another operation in the same transaction failed.',
          )
        }
      }
    }
    return { status: 200, body: { compositeResponse: responses } }
  }

  private runSubrequest(
    raw: Record<string, unknown>,
    answers: Map<string, unknown>,
    apiVersion: string,
  ): ApiResult {
    const method = String(raw.method ?? '').toUpperCase()
    let url: string
    let body: unknown
    try {
      url = resolveReferences(String(raw.url ?? ''), answers)
      body =
        raw.body === undefined ? undefined : JSON.parse(resolveReferences(JSON.stringify(raw.body), answers))
    } catch (error) {
      return sfError(400, 'PROCESSING_HALTED', (error as Error).message)
    }
    const parsed = new URL(url, 'http://composite.invalid')
    const target = parseDataPath(parsed.pathname)
    if (!target || target.subPath === '/composite' || dataKind(target.subPath) === undefined) {
      return sfError(400, 'INVALID_BATCH_REQUEST', `unsupported subrequest url: ${url}`)
    }
    return this.handle({
      method,
      subPath: target.subPath,
      search: parsed.searchParams,
      body,
      apiVersion: target.apiVersion ?? apiVersion,
    })
  }
}

function methodNotAllowed(method: string): ApiResult {
  return sfError(
    405,
    'METHOD_NOT_ALLOWED',
    `HTTP Method '${method}' not allowed. Allowed are GET,PATCH,DELETE,POST`,
  )
}

function halted(referenceId: string, message: string) {
  return {
    body: [{ errorCode: 'PROCESSING_HALTED', message }],
    httpHeaders: {},
    httpStatusCode: 400,
    referenceId,
  }
}

/** Replaces `@{ref.path.to[0].field}` with the value from an earlier subrequest's answer. */
function resolveReferences(text: string, answers: Map<string, unknown>): string {
  return text.replace(
    /@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}/g,
    (_, ref: string, path: string) => {
      if (!answers.has(ref)) throw new Error(`Invalid reference specified. No value for ${ref} found.`)
      let value = answers.get(ref)
      for (const step of path.match(/[A-Za-z0-9_]+/g) ?? []) {
        value =
          value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[step] : undefined
      }
      if (value === undefined || value === null || typeof value === 'object') {
        throw new Error(`Invalid reference specified. No value for ${ref}${path} found.`)
      }
      return String(value)
    },
  )
}
