/**
 * SalesforceApi on jsforce 3: jsforce builds URLs, parses errors and replays a
 * request after a 401 via refreshFn; this module adds the bridge's policy
 * around it (per-call deadline and cancel, bounded re-auth, backoff retries,
 * limit tracking, error codes).
 */
import type { Logger } from 'pino'
import type { SalesforceConfig } from '../../config/schema.js'
import type { BackoffOptions } from '../../domain/backoff.js'
import { BridgeError } from '../../domain/errors.js'
import type { ExchangeSink } from '../../ports/exchange-log.js'
import type {
  ApiUsage,
  SalesforceApi,
  SalesforceIdentity,
  SessionCredentials,
} from '../../ports/salesforce.js'
import { createRecord, invokeStandardAction } from './actions.js'
import { attemptCall, probeLimit, type SalesforceCalls } from './calls.js'
import { createApiLimitGate } from './limit-gate.js'
import { createRecords, deleteRecords, updateRecords } from './records.js'
import { apex, describe, get, query, queryAtMost } from './rest.js'
import { type ApiCounters, mintToken, openSession } from './session.js'

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
  /** Support recording: every request and answer, raw (the sink redacts). */
  record?: ExchangeSink
}

/** `…/id/<orgId>/<userId>` → its parts; null for anything else. */
function parseIdentity(url: string | null): SalesforceIdentity | null {
  const m = url ? /\/id\/(00D[A-Za-z0-9]{12,15})\/(005[A-Za-z0-9]{12,15})\/?$/.exec(url) : null
  return url && m ? { url, orgId: m[1] as string, userId: m[2] as string } : null
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 10_000 }

export function createSalesforceApi(config: SalesforceConfig, deps: SalesforceApiDeps): SalesforceApi {
  const log = deps.logger.child({ component: 'salesforce' })
  const counters: ApiCounters = { calls: 0, usage: null }
  const calls: SalesforceCalls = {
    session: openSession(config, log, counters, deps.onApiUsage, deps.record),
    gate: createApiLimitGate({
      probeIntervalMs: config.apiLimitProbeIntervalMs,
      logger: log,
      probe: () => probeLimit(calls),
      ...(deps.onApiLimitPause ? { onChange: deps.onApiLimitPause } : {}),
    }),
    backoff: deps.backoff ?? DEFAULT_BACKOFF,
    random: deps.random ?? Math.random,
  }
  return {
    describe: (object, options) => describe(calls, object, options),
    query: (soql, options) => query(calls, soql, options),
    queryAtMost: (soql, maxRecords, options) => queryAtMost(calls, soql, maxRecords, options),
    apex: (method, path, body, options) => apex(calls, method, path, body, options),
    get: (path, options) => get(calls, path, options),
    identity: () => parseIdentity(calls.session.identityUrl),

    createRecords: (sobject, records, options) => createRecords(calls, sobject, records, options),
    updateRecords: (sobject, records, options) => updateRecords(calls, sobject, records, options),
    deleteRecords: (ids, options) => deleteRecords(calls, ids, options),
    createRecord: (sobject, fields, options) => createRecord(calls, sobject, fields, options),
    invokeStandardAction: (action, inputs, options) => invokeStandardAction(calls, action, inputs, options),

    async sessionCredentials(options): Promise<SessionCredentials> {
      const { conn } = calls.session
      if (options?.renew || !conn.accessToken) await mintToken(calls.session)
      const identity = parseIdentity(calls.session.identityUrl)
      if (!conn.accessToken || !identity) {
        throw new BridgeError('SALESFORCE_AUTH_FAILED', 'the token answer named no org (no identity URL)')
      }
      return { accessToken: conn.accessToken, instanceUrl: conn.instanceUrl, orgId: identity.orgId }
    },

    async checkAuth(options) {
      // Authentication is not metered: it answers even while the org is at its API limit.
      await attemptCall(calls, 'authenticate', 'GET', options, async () => undefined)
    },

    apiUsage: () => counters.usage,
    instanceUrl: () => calls.session.conn.instanceUrl || null,
    callCount: () => counters.calls,
    apiLimitPause: () => calls.gate.pause(),
    close: () => calls.gate.dispose(),
  }
}
