/** The OAuth token endpoint and the sessions it issues. */
import { createHmac, randomBytes } from 'node:crypto'
import type { ApiResult } from './http.js'
import { checkJwtAssertion } from './jwt.js'

export interface AuthSettings {
  url: string
  orgId: string
  clientId: string
  clientSecret: string
  jwtPublicKeys: Record<string, string>
  sessionTtlMs: number | undefined
  now: () => number
}

const USER_ID = '005000000000001AAA'
const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

function tokenError(error: string, description: string, status = 400): ApiResult {
  return { status, body: { error, error_description: description } }
}

export class Sessions {
  /** token → expiry (ms epoch, Infinity when sessions never time out) */
  private readonly tokens = new Map<string, number>()

  constructor(private readonly settings: AuthSettings) {}

  isValid(token: string): boolean {
    const expiry = this.tokens.get(token)
    return expiry !== undefined && this.settings.now() < expiry
  }

  expireAll(): void {
    this.tokens.clear()
  }

  /** POST /services/oauth2/token with a form body. */
  handleTokenRequest(form: URLSearchParams, authorization: string | undefined): ApiResult {
    const grant = form.get('grant_type')
    if (grant === 'client_credentials') return this.clientCredentials(form, authorization)
    if (grant === JWT_GRANT) return this.jwtBearer(form)
    if (!grant) return tokenError('invalid_request', 'grant type not supported')
    return tokenError('unsupported_grant_type', 'grant type not supported')
  }

  private clientCredentials(form: URLSearchParams, authorization: string | undefined): ApiResult {
    let clientId = form.get('client_id')
    let clientSecret = form.get('client_secret')
    if (authorization?.startsWith('Basic ')) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon >= 0) {
        clientId = decodeURIComponent(decoded.slice(0, colon))
        clientSecret = decodeURIComponent(decoded.slice(colon + 1))
      }
    }
    if (clientId !== this.settings.clientId)
      return tokenError('invalid_client_id', 'client identifier invalid')
    if (clientSecret !== this.settings.clientSecret) {
      return tokenError('invalid_client_credentials', 'invalid client credentials')
    }
    return this.issue()
  }

  private jwtBearer(form: URLSearchParams): ApiResult {
    const assertion = form.get('assertion')
    if (!assertion) return tokenError('invalid_request', 'assertion is required')
    const outcome = checkJwtAssertion(assertion, {
      publicKeys: this.settings.jwtPublicKeys,
      audiences: [this.settings.url, 'https://login.salesforce.com', 'https://test.salesforce.com'],
      nowMs: this.settings.now(),
    })
    if (!outcome.ok) return tokenError(outcome.error, outcome.description)
    return this.issue()
  }

  private issue(): ApiResult {
    const { url, orgId, clientSecret, sessionTtlMs } = this.settings
    const issuedAt = this.settings.now()
    const accessToken = `${orgId.slice(0, 15)}!${randomBytes(48).toString('base64url')}`
    this.tokens.set(
      accessToken,
      sessionTtlMs === undefined ? Number.POSITIVE_INFINITY : issuedAt + sessionTtlMs,
    )
    const id = `${url}/id/${orgId}/${USER_ID}`
    const signature = createHmac('sha256', clientSecret).update(`${id}${issuedAt}`).digest('base64')
    return {
      status: 200,
      body: {
        access_token: accessToken,
        signature,
        scope: 'api',
        instance_url: url,
        id,
        token_type: 'Bearer',
        issued_at: String(issuedAt),
      },
    }
  }
}
