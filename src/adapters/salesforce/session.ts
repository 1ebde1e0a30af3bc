/**
 * The jsforce connection and its session: the first token is minted on
 * demand, concurrent callers share one mint, and a 401 re-mints once per
 * logical call.
 */

import { Connection, type ConnectionConfig, type Schema } from '@jsforce/jsforce-node'
import type { Logger } from 'pino'
import type { SalesforceConfig } from '../../config/schema.js'
import { BridgeError, toBridgeError } from '../../domain/errors.js'
import type { ExchangeSink } from '../../ports/exchange-log.js'
import type { ApiUsage } from '../../ports/salesforce.js'
import { proxyDispatcher } from '../proxy/http-agents.js'
import { raceAbort } from './abort.js'
import { requestToken } from './auth.js'
import { type CallContext, callContext } from './context.js'
import { parseLimitInfo } from './limit-info.js'
import { BridgeTransport } from './transport.js'

/** jsforce's refresh callback, named through the public ConnectionConfig (its own module is not public). */
type SessionRefreshFunc<S extends Schema> = NonNullable<ConnectionConfig<S>['refreshFn']>

/** What the adapter reports: requests sent (tokens included) and the last Sforce-Limit-Info reading. */
export interface ApiCounters {
  calls: number
  usage: ApiUsage | null
}

export interface SalesforceSession {
  readonly config: SalesforceConfig
  readonly log: Logger
  readonly counters: ApiCounters
  readonly conn: Connection
  /** The token request on the wire, shared by everyone who needs a session meanwhile. */
  minting: Promise<void> | null
  /** The last token answer's identity URL. */
  identityUrl: string | null
  readonly record: ExchangeSink | undefined
}

/** Path only: query strings carry SOQL that can be long, and nothing secret goes in URLs anyway. */
export function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

export function openSession(
  config: SalesforceConfig,
  log: Logger,
  counters: ApiCounters,
  onApiUsage: ((usage: ApiUsage) => void) | undefined,
  record?: ExchangeSink,
): SalesforceSession {
  const transport = new BridgeTransport({
    dispatcherFor: (url) => proxyDispatcher(url, config.proxy),
    ...(record ? { record } : {}),
    onRequest: () => {
      counters.calls++
    },
    onResponse: ({ method, url, status, headers }) => {
      const reading = parseLimitInfo(headers['sforce-limit-info'])
      if (reading) {
        counters.usage = reading
        onApiUsage?.(reading)
      }
      log.debug({ method, path: pathOf(url), status }, 'salesforce response')
    },
  })
  const refreshFn: SessionRefreshFunc<Schema> = (_conn, callback) => refreshSession(session, callback)
  const session: SalesforceSession = {
    config,
    log,
    counters,
    conn: new Connection({ loginUrl: config.loginUrl, version: config.apiVersion, refreshFn }),
    minting: null,
    identityUrl: null,
    record,
  }
  session.conn._transport = transport
  return session
}

/** Mints a new token (shared by concurrent callers). Its own deadline, so one caller's cancel does not fail the others. */
export function mintToken(session: SalesforceSession): Promise<void> {
  if (!session.minting) {
    const { config, conn, log } = session
    session.minting = (async () => {
      session.counters.calls++
      const signal = AbortSignal.timeout(config.timeoutMs)
      try {
        const token = await requestToken(config, signal, session.record)
        conn.instanceUrl = token.instanceUrl
        conn.accessToken = token.accessToken
        session.identityUrl = token.id
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
      session.minting = null
    })
  }
  return session.minting
}

/** jsforce calls this on a 401; one re-mint per logical call, then the call fails instead of looping. */
function refreshSession(
  session: SalesforceSession,
  callback: Parameters<SessionRefreshFunc<Schema>>[1],
): void {
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
  session.log.info('salesforce session invalid; re-authenticating once')
  mintToken(session).then(
    () => callback(null, session.conn.accessToken ?? undefined),
    (error: unknown) => {
      const bridgeError = toBridgeError(error, 'SALESFORCE_AUTH_FAILED')
      if (ctx) ctx.authError = bridgeError
      callback(bridgeError)
    },
  )
}

export async function ensureSession(session: SalesforceSession, ctx: CallContext): Promise<void> {
  if (!session.conn.accessToken) await raceAbort(mintToken(session), ctx.signal)
}
