/**
 * The bridge's policy around one logical Salesforce call: the org-wide
 * API-limit gate, a per-call deadline and cancel, bounded re-auth, and
 * retries with full-jitter backoff.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { HttpMethods } from '@jsforce/jsforce-node'
import { type BackoffOptions, backoffDelay } from '../../domain/backoff.js'
import { BridgeError, isBridgeError } from '../../domain/errors.js'
import type { SalesforceCallOptions } from '../../ports/salesforce.js'
import { raceAbort } from './abort.js'
import { type CallContext, callContext } from './context.js'
import { abortError, mapSalesforceError, notSentCodes } from './errors.js'
import type { ApiLimitGate, ProbeVerdict } from './limit-gate.js'
import { ensureSession, type SalesforceSession } from './session.js'

export interface SalesforceCalls {
  readonly session: SalesforceSession
  readonly gate: ApiLimitGate
  readonly backoff: BackoffOptions
  readonly random: () => number
}

export function request<T>(
  session: SalesforceSession,
  method: HttpMethods,
  url: string,
  body?: unknown,
): Promise<T> {
  return session.conn.request<T>({
    method,
    url,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  })
}

function limitError(what: string): BridgeError {
  return new BridgeError('API_LIMIT_EXCEEDED', `${what}: the Salesforce org is at its API request limit`, {
    transient: true,
  })
}

function shouldRetry(maxRetries: number, error: BridgeError, method: string, attempt: number): boolean {
  if (attempt >= maxRetries || error.code !== 'SALESFORCE_UNAVAILABLE') return false
  if (method !== 'POST') return true
  // A POST that may have reached the server is not resent: S-Drive would create WIP records twice.
  const status = error.details?.status
  const networkCode = error.details?.networkCode
  return (
    (typeof status === 'number' && status >= 500) ||
    (typeof networkCode === 'string' && notSentCodes.has(networkCode))
  )
}

/** GET /limits: the cheapest call that says whether the org takes calls again (it counts against the quota). */
export async function probeLimit(calls: SalesforceCalls): Promise<ProbeVerdict> {
  try {
    await attemptCall(calls, 'API-limit probe', 'GET', undefined, () =>
      request(calls.session, 'GET', '/limits'),
    )
    return 'open'
  } catch (error) {
    if (isBridgeError(error) && error.code === 'API_LIMIT_EXCEEDED') return 'limited'
    throw error
  }
}

/**
 * One logical call behind the org-wide API-limit gate: while the org is at
 * its limit the call waits (its deadline starts only when it goes out) and
 * is sent again once the limit lifts, so callers never see the limit.
 */
export async function runCall<T>(
  calls: SalesforceCalls,
  what: string,
  method: string,
  options: SalesforceCallOptions | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const { gate } = calls
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
      return await attemptCall(calls, what, method, options, fn)
    } catch (error) {
      // REQUEST_LIMIT_EXCEEDED is refused before any work, so even a POST is safe to send again.
      if (!isBridgeError(error) || error.code !== 'API_LIMIT_EXCEEDED') throw error
      gate.trip()
      if (!wait) throw error
    }
  }
}

/** One try of a logical call: deadline + cancel, bounded re-auth, retries with full-jitter backoff. */
export async function attemptCall<T>(
  calls: SalesforceCalls,
  what: string,
  method: string,
  options: SalesforceCallOptions | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const { session } = calls
  const { config, log } = session
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
        await ensureSession(session, ctx)
        sent = true
        return await raceAbort(fn(), signal)
      })
    } catch (error) {
      const mapped = mapSalesforceError(error, ctx, external, what, config.timeoutMs)
      // A failed token request happened before the call itself, so it is safe to redo for any method.
      if (!shouldRetry(config.maxRetries, mapped, sent ? method : 'GET', attempt)) throw mapped
      const delayMs = backoffDelay(attempt, calls.backoff, calls.random)
      log.warn({ what, attempt: attempt + 1, delayMs, code: mapped.code, status: ctx.lastStatus }, 'retrying')
      try {
        await sleep(delayMs, undefined, { signal })
      } catch {
        throw abortError(external, what, config.timeoutMs)
      }
    }
  }
}
