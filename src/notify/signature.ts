/**
 * The webhook signature: HMAC-SHA256 over `<timestamp>.<raw body>` with the
 * channel's secret, sent as `X-Bridge-Signature: sha256=<hex>` beside
 * `X-Bridge-Timestamp: <unix seconds>`. Binding the timestamp lets a
 * receiver refuse replays of an old delivery. Pure (no I/O).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export function signWebhook(secret: string, timestampSeconds: number, rawBody: string): string {
  const hex = createHmac('sha256', secret).update(`${timestampSeconds}.${rawBody}`).digest('hex')
  return `sha256=${hex}`
}

/** What a receiver does: recompute and compare in constant time. */
export function verifyWebhook(
  secret: string,
  timestamp: string,
  rawBody: string,
  signature: string,
): boolean {
  if (!/^\d+$/.test(timestamp)) return false
  const expected = Buffer.from(signWebhook(secret, Number(timestamp), rawBody))
  const given = Buffer.from(signature)
  return expected.length === given.length && timingSafeEqual(expected, given)
}
