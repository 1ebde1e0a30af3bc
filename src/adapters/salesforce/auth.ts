/**
 * Access tokens for the two server-to-server grants. Neither returns a
 * refresh token, so "refreshing" means minting a new one with the same grant.
 */
import { sign } from 'node:crypto'
import type { SalesforceConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import type { ExchangeSink } from '../../ports/exchange-log.js'
import { proxyAuthFailure, proxyDispatcher } from '../proxy/http-agents.js'

export interface TokenResponse {
  accessToken: string
  instanceUrl: string
  /** Identity URL `…/id/<orgId>/<userId>`, when the server sent one. */
  id: string | null
}

export interface JwtClaimsInput {
  clientId: string
  username: string
  audience: string
  privateKey: string
}

/** Salesforce accepts at most 3 minutes between now and exp. */
const JWT_LIFETIME_SECONDS = 180

/** RS256-signed JWT bearer assertion (header {"alg":"RS256"}, exp in epoch seconds). */
export function buildJwtAssertion(input: JwtClaimsInput, nowMs: number = Date.now()): string {
  const header = Buffer.from(JSON.stringify({ alg: 'RS256' })).toString('base64url')
  const claims = Buffer.from(
    JSON.stringify({
      iss: input.clientId,
      sub: input.username,
      aud: input.audience,
      exp: Math.floor(nowMs / 1000) + JWT_LIFETIME_SECONDS,
    }),
  ).toString('base64url')
  const signingInput = `${header}.${claims}`
  let signature: string
  try {
    signature = sign('RSA-SHA256', Buffer.from(signingInput), input.privateKey).toString('base64url')
  } catch (error) {
    // The message of a key-parsing error never contains the key itself.
    throw new BridgeError(
      'SALESFORCE_AUTH_FAILED',
      'Cannot sign the JWT assertion with the configured private key',
      {
        cause: error,
      },
    )
  }
  return `${signingInput}.${signature}`
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}

/** The form body for the configured grant; built fresh each time because a JWT expires. */
export function tokenRequestBody(config: SalesforceConfig, nowMs: number = Date.now()): URLSearchParams {
  const auth = config.auth
  if (auth.type === 'client_credentials') {
    return new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: auth.clientId,
      client_secret: auth.clientSecret,
    })
  }
  const assertion = buildJwtAssertion(
    {
      clientId: auth.clientId,
      username: auth.username,
      audience: trimSlash(auth.audience ?? config.loginUrl),
      privateKey: auth.privateKey,
    },
    nowMs,
  )
  return new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion })
}

/**
 * POSTs to /services/oauth2/token. Errors: SALESFORCE_AUTH_FAILED (rejected
 * grant, permanent), SALESFORCE_UNAVAILABLE (5xx / network, transient).
 * Abort errors propagate unchanged so the caller can tell cancel from timeout.
 */
export async function requestToken(
  config: SalesforceConfig,
  signal: AbortSignal,
  record?: ExchangeSink,
): Promise<TokenResponse> {
  const url = `${trimSlash(config.loginUrl)}/services/oauth2/token`
  const form = tokenRequestBody(config)
  const started = Date.now()
  const recordAnswer = (status: number | null, responseBody: unknown, error?: string) =>
    record?.({
      at: new Date(started).toISOString(),
      service: 'salesforce',
      method: 'POST',
      url,
      status,
      durationMs: Date.now() - started,
      requestBody: Object.fromEntries(form),
      responseBody,
      ...(error !== undefined ? { error } : {}),
    })
  let res: Response
  try {
    const dispatcher = proxyDispatcher(url, config.proxy)
    res = await fetch(url, {
      ...(dispatcher ? { dispatcher } : {}),
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
      signal,
    } as RequestInit)
  } catch (error) {
    recordAnswer(null, undefined, describeNetworkError(error))
    if (signal.aborted) throw error
    const refused = proxyAuthFailure(error)
    if (refused) throw refused
    throw new BridgeError(
      'SALESFORCE_UNAVAILABLE',
      `Token endpoint unreachable: ${describeNetworkError(error)}`,
      {
        transient: true,
        cause: error,
      },
    )
  }
  const text = await res.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    // A non-JSON body (HTML error page) is handled by the status checks below.
  }
  recordAnswer(res.status, Object.keys(json).length > 0 ? json : text)
  if (res.status >= 500) {
    throw new BridgeError('SALESFORCE_UNAVAILABLE', `Token endpoint answered ${res.status}`, {
      transient: true,
      details: { status: res.status },
    })
  }
  if (!res.ok) {
    const code = typeof json.error === 'string' ? json.error : `HTTP_${res.status}`
    const description = typeof json.error_description === 'string' ? json.error_description : ''
    throw new BridgeError(
      'SALESFORCE_AUTH_FAILED',
      `Salesforce refused the ${config.auth.type} grant: ${code} ${description}`.trim(),
      {
        // rate_limit_exceeded passes with time; bad credentials do not.
        transient: code === 'rate_limit_exceeded',
        details: { status: res.status, salesforceCode: code },
      },
    )
  }
  if (typeof json.access_token !== 'string' || typeof json.instance_url !== 'string') {
    throw new BridgeError('SALESFORCE_AUTH_FAILED', 'Token response lacks access_token or instance_url', {
      details: { status: res.status },
    })
  }
  return {
    accessToken: json.access_token,
    instanceUrl: json.instance_url,
    id: typeof json.id === 'string' ? json.id : null,
  }
}

export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined
    if (cause && typeof cause.code === 'string') return `${error.message} (${cause.code})`
    return error.message
  }
  return String(error)
}

export function networkErrorCode(error: unknown): string | undefined {
  if (error instanceof Error) {
    const cause = error.cause as { code?: unknown } | undefined
    if (cause && typeof cause.code === 'string') return cause.code
    const own = (error as { code?: unknown }).code
    if (typeof own === 'string') return own
  }
  return undefined
}
