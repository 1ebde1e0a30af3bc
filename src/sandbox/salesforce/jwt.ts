/** JWT bearer assertions as Salesforce checks them: RS256 only, known issuer, audience, expiry, subject. */
import { createPublicKey, verify } from 'node:crypto'

export interface JwtCheck {
  publicKeys: Record<string, string>
  audiences: readonly string[]
  nowMs: number
}

export type JwtOutcome =
  | { ok: true; issuer: string; subject: string }
  | { ok: false; error: 'invalid_grant' | 'invalid_client_id'; description: string }

/** Salesforce allows exp up to 3 minutes ahead; a little more absorbs clock skew between hosts. */
const MAX_EXP_AHEAD_SECONDS = 3 * 60 + 30

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

export function checkJwtAssertion(assertion: string, check: JwtCheck): JwtOutcome {
  const invalid = (description: string): JwtOutcome => ({ ok: false, error: 'invalid_grant', description })
  const parts = assertion.split('.')
  if (parts.length !== 3) return invalid('invalid assertion')
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string]
  const header = decodeJson(headerPart)
  const claims = decodeJson(payloadPart)
  if (!header || !claims) return invalid('invalid assertion')
  if (header.alg !== 'RS256') return invalid('invalid assertion: only RS256 is accepted')
  const issuer = claims.iss
  const pem = typeof issuer === 'string' ? check.publicKeys[issuer] : undefined
  if (typeof issuer !== 'string' || pem === undefined) {
    return { ok: false, error: 'invalid_client_id', description: 'client identifier invalid' }
  }
  const signed = verify(
    'RSA-SHA256',
    Buffer.from(`${headerPart}.${payloadPart}`),
    createPublicKey(pem),
    Buffer.from(signaturePart, 'base64url'),
  )
  if (!signed) return invalid('invalid assertion')
  const audiences = [claims.aud].flat()
  if (!audiences.some((aud) => typeof aud === 'string' && check.audiences.includes(aud.replace(/\/$/, '')))) {
    return invalid('audience is invalid')
  }
  const nowSeconds = check.nowMs / 1000
  if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds) return invalid('expired authorization code')
  if (claims.exp > nowSeconds + MAX_EXP_AHEAD_SECONDS) return invalid('invalid assertion: exp too far ahead')
  const subject = claims.sub ?? claims.prn
  if (typeof subject !== 'string' || subject === '') return invalid("user hasn't approved this consumer")
  return { ok: true, issuer, subject }
}
