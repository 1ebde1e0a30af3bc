/**
 * SalesforceApi on jsforce 3: jsforce builds URLs, parses errors and replays a
 * request after a 401 via refreshFn; this module adds the bridge's policy
 * around it (per-call deadline and cancel, bounded re-auth, backoff retries,
 * limit tracking, error codes).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Connection, type HttpMethods, type Schema } from 'jsforce'
import type { SessionRefreshFunc } from 'jsforce/lib/session-refresh-delegate.js'
import type { Logger } from 'pino'
import type { SalesforceConfig } from '../../config/schema.js'
import { type BackoffOptions, backoffDelay } from '../../domain/backoff.js'
import { BridgeError, isBridgeError, toBridgeError } from '../../domain/errors.js'
import { soqlIdentifier } from '../../domain/soql.js'
import type {
  ApiUsage,
  ObjectDescription,
  SalesforceApi,
  SalesforceCallOptions,
  SaveResult,
} from '../../ports/salesforce.js'
import { raceAbort } from './abort.js'
import { requestToken } from './auth.js'
import { type CallContext, callContext } from './context.js'
import { abortError, mapSalesforceError, notSentCodes } from './errors.js'
import { createApiLimitGate, type ProbeVerdict } from './limit-gate.js'
import { parseLimitInfo } from './limit-info.js'
import { BridgeTransport } from './transport.js'

export { buildJwtAssertion } from './auth.js'
export { parseLimitInfo } from './limit-info.js'

export interface SalesforceApiDeps {
  logger: Logger
  onApiUsage?: (usage: ApiUsage) => void
  /** Told when the org-wide API-limit pause begins (true) and ends (false). */
  onApiLimitPause?: (paused: boolean) => void
  /** Pacing of retries after 5xx / network errors; default 500 ms doubling up to 10 s. */
  backoff?: BackoffOptions
  random?: () => number
}

/** sObject Collections take at most 200 records per request. */
const COLLECTION_CHUNK = 200

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 10_000 }

interface QueryPage {
  done: boolean
  nextRecordsUrl?: string
  records: Record<string, unknown>[]
}

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

function withoutAttributes(record: Record<string, unknown>): Record<string, unknown> {
  const { attributes: _attributes, ...rest } = record
  return rest
}

/** Path only: query strings carry SOQL that can be long, and nothing secret goes in URLs anyway. */
function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

export function createSalesforceApi(config: SalesforceConfig, deps: SalesforceApiDeps): SalesforceApi {
  const log = deps.logger.child({ component: 'salesforce' })
  const backoff = deps.backoff ?? DEFAULT_BACKOFF
  const random = deps.random ?? Math.random
  let calls = 0
  let usage: ApiUsage | null = null
  let minting: Promise<void> | null = null

  const transport = new BridgeTransport({
    onRequest: () => {
      calls++
    },
    onResponse: ({ method, url, status, headers }) => {
      const reading = parseLimitInfo(headers['sforce-limit-info'])
      if (reading) {
        usage = reading
        deps.onApiUsage?.(reading)
      }
      log.debug({ method, path: pathOf(url), status }, 'salesforce response')
    },
  })

  /** Mints a new token (shared by concurrent callers). Its own deadline, so one caller's cancel does not fail the others. */
  const mint = (): Promise<void> => {
    if (!minting) {
      minting = (async () => {
        calls++
        const signal = AbortSignal.timeout(config.timeoutMs)
        try {
          const token = await requestToken(config, signal)
          conn.instanceUrl = token.instanceUrl
          conn.accessToken = token.accessToken
          log.info(
            { grant: config.auth.type, instanceUrl: token.instanceUrl },
            'salesforce session established',
          )
        } catch (error) {
          if (signal.aborted) {
            throw new BridgeError('TIMEOUT', `Token request exceeded its ${config.timeoutMs} ms deadline`, {
              transient: true,
            })
          }
          throw error
        }
      })().finally(() => {
        minting = null
      })
    }
    return minting
  }

  /** jsforce calls this on a 401; one re-mint per logical call, then the call fails instead of looping. */
  const refreshFn: SessionRefreshFunc<Schema> = (_conn, callback) => {
    const ctx = callContext.getStore()
    if (ctx && ctx.reauths >= 1) {
      ctx.authError = new BridgeError(
        'SESSION_EXPIRED',
        'Salesforce rejected the session again right after re-authentication',
        { details: { salesforceCode: 'INVALID_SESSION_ID', status: 401 } },
      )
      callback(ctx.authError)
      return
    }
    if (ctx) ctx.reauths++
    log.info('salesforce session invalid; re-authenticating once')
    mint().then(
      () => callback(null, conn.accessToken ?? undefined),
      (error: unknown) => {
        const bridgeError = toBridgeError(error, 'SALESFORCE_AUTH_FAILED')
        if (ctx) ctx.authError = bridgeError
        callback(bridgeError)
      },
    )
  }

  const conn = new Connection({ loginUrl: config.loginUrl, version: config.apiVersion, refreshFn })
  conn._transport = transport

  const ensureSession = async (ctx: CallContext) => {
    if (!conn.accessToken) await raceAbort(mint(), ctx.signal)
  }

  const shouldRetry = (error: BridgeError, method: string, attempt: number): boolean => {
    if (attempt >= config.maxRetries || error.code !== 'SALESFORCE_UNAVAILABLE') return false
    if (method !== 'POST') return true
    // A POST that may have reached the server is not resent: S-Drive would create WIP records twice.
    const status = error.details?.status
    const networkCode = error.details?.networkCode
    return (
      (typeof status === 'number' && status >= 500) ||
      (typeof networkCode === 'string' && notSentCodes.has(networkCode))
    )
  }

  const gate = createApiLimitGate({
    probeIntervalMs: config.apiLimitProbeIntervalMs,
    logger: log,
    probe: () => probeLimit(),
    ...(deps.onApiLimitPause ? { onChange: deps.onApiLimitPause } : {}),
  })

  /** GET /limits: the cheapest call that says whether the org takes calls again (it counts against the quota). */
  async function probeLimit(): Promise<ProbeVerdict> {
    try {
      await attempt('API-limit probe', 'GET', undefined, () => request('GET', '/limits'))
      return 'open'
    } catch (error) {
      if (isBridgeError(error) && error.code === 'API_LIMIT_EXCEEDED') return 'limited'
      throw error
    }
  }

  const limitError = (what: string) =>
    new BridgeError('API_LIMIT_EXCEEDED', `${what}: the Salesforce org is at its API request limit`, {
      transient: true,
    })

  /**
   * One logical call behind the org-wide API-limit gate: while the org is at
   * its limit the call waits (its deadline starts only when it goes out) and
   * is sent again once the limit lifts, so callers never see the limit.
   */
  async function run<T>(
    what: string,
    method: string,
    options: SalesforceCallOptions | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    const external = options?.signal
    const wait = options?.whenLimited !== 'fail'
    for (;;) {
      if (gate.pause()) {
        if (!wait) throw limitError(what)
        try {
          await gate.pass(external)
        } catch {
          throw new BridgeError('CANCELLED', `${what} cancelled`)
        }
      }
      try {
        return await attempt(what, method, options, fn)
      } catch (error) {
        // REQUEST_LIMIT_EXCEEDED is refused before any work, so even a POST is safe to send again.
        if (!isBridgeError(error) || error.code !== 'API_LIMIT_EXCEEDED') throw error
        gate.trip()
        if (!wait) throw error
      }
    }
  }

  /** One try of a logical call: deadline + cancel, bounded re-auth, retries with full-jitter backoff. */
  async function attempt<T>(
    what: string,
    method: string,
    options: SalesforceCallOptions | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    const external = options?.signal
    if (external?.aborted) throw new BridgeError('CANCELLED', `${what} cancelled`)
    const deadline = AbortSignal.timeout(config.timeoutMs)
    const signal = external ? AbortSignal.any([external, deadline]) : deadline
    const ctx: CallContext = { signal, reauths: 0 }
    for (let attempt = 0; ; attempt++) {
      ctx.lastStatus = undefined
      ctx.authError = undefined
      let sent = false
      try {
        return await callContext.run(ctx, async () => {
          await ensureSession(ctx)
          sent = true
          return await raceAbort(fn(), signal)
        })
      } catch (error) {
        const mapped = mapSalesforceError(error, ctx, external, what, config.timeoutMs)
        // A failed token request happened before the call itself, so it is safe to redo for any method.
        if (!shouldRetry(mapped, sent ? method : 'GET', attempt)) throw mapped
        const delayMs = backoffDelay(attempt, backoff, random)
        log.warn(
          { what, attempt: attempt + 1, delayMs, code: mapped.code, status: ctx.lastStatus },
          'retrying',
        )
        try {
          await sleep(delayMs, undefined, { signal })
        } catch {
          throw abortError(external, what, config.timeoutMs)
        }
      }
    }
  }

  const request = <T>(method: HttpMethods, url: string, body?: unknown): Promise<T> =>
    conn.request<T>({
      method,
      url,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    })

  return {
    async describe(object: string, options?: SalesforceCallOptions): Promise<ObjectDescription | null> {
      const url = `/sobjects/${soqlIdentifier(object)}/describe`
      try {
        const raw = await run('describe', 'GET', options, () =>
          request<{ name?: unknown; fields?: { name?: unknown }[]; keyPrefix?: unknown }>('GET', url),
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
    },

    async query<T extends Record<string, unknown> = Record<string, unknown>>(
      soql: string,
      options?: SalesforceCallOptions,
    ): Promise<T[]> {
      const records: T[] = []
      let url: string | undefined = `/query?q=${encodeURIComponent(soql)}`
      let page = 0
      while (url) {
        const current: string = url
        const result = await run(page === 0 ? 'query' : 'queryMore', 'GET', options, () =>
          request<QueryPage>('GET', current),
        )
        for (const record of result.records ?? []) records.push(withoutAttributes(record) as T)
        url = result.done ? undefined : result.nextRecordsUrl
        page++
      }
      return records
    },

    async apex<T = unknown>(
      method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
      path: string,
      body?: unknown,
      options?: SalesforceCallOptions,
    ): Promise<T> {
      const url = `/services/apexrest${path.startsWith('/') ? path : `/${path}`}`
      const sendBody = method === 'GET' || method === 'DELETE' ? undefined : body
      return run(`apex ${method} ${pathOf(path)}`, method, options, () => request<T>(method, url, sendBody))
    },

    async createRecords(
      sobject: string,
      records: Record<string, unknown>[],
      options?: SalesforceCallOptions,
    ): Promise<SaveResult[]> {
      const type = soqlIdentifier(sobject)
      const results: SaveResult[] = []
      for (const part of chunk(records, COLLECTION_CHUNK)) {
        const body = { allOrNone: false, records: part.map((r) => ({ attributes: { type }, ...r })) }
        const raw = await run('create records', 'POST', options, () =>
          request<RawSaveResult[]>('POST', '/composite/sobjects', body),
        )
        results.push(...(Array.isArray(raw) ? raw.map(toSaveResult) : []))
      }
      return results
    },

    async updateRecords(
      sobject: string,
      records: Record<string, unknown>[],
      options?: SalesforceCallOptions,
    ): Promise<SaveResult[]> {
      const type = soqlIdentifier(sobject)
      for (const record of records) {
        if (typeof record.Id !== 'string')
          throw new BridgeError('VALIDATION_FAILED', 'updateRecords needs an Id on every record')
      }
      const results: SaveResult[] = []
      for (const part of chunk(records, COLLECTION_CHUNK)) {
        const body = { allOrNone: false, records: part.map((r) => ({ attributes: { type }, ...r })) }
        const raw = await run('update records', 'PATCH', options, () =>
          request<RawSaveResult[]>('PATCH', '/composite/sobjects', body),
        )
        results.push(...(Array.isArray(raw) ? raw.map(toSaveResult) : []))
      }
      return results
    },

    async deleteRecords(ids: string[], options?: SalesforceCallOptions): Promise<SaveResult[]> {
      const results: SaveResult[] = []
      for (const part of chunk(ids, COLLECTION_CHUNK)) {
        const url = `/composite/sobjects?ids=${part.map(encodeURIComponent).join(',')}&allOrNone=false`
        const raw = await run('delete records', 'DELETE', options, () =>
          request<RawSaveResult[]>('DELETE', url),
        )
        results.push(...(Array.isArray(raw) ? raw.map(toSaveResult) : []))
      }
      return results
    },

    async checkAuth(options?: SalesforceCallOptions): Promise<void> {
      // Authentication is not metered: it answers even while the org is at its API limit.
      await attempt('authenticate', 'GET', options, async () => undefined)
    },

    apiUsage: () => usage,
    callCount: () => calls,
    apiLimitPause: () => gate.pause(),
    close: () => gate.dispose(),
  }
}
