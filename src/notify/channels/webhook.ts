/**
 * The webhook channel: POST the message as JSON, signed (signature.ts).
 * 2xx is sent; 408, 429, 5xx and network faults are worth another try;
 * any other answer is final. Errors name the host only: a webhook URL's
 * path often is its secret (Slack, Teams).
 */
import type { WebhookChannel } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import type { OutboxMessage } from '../../ports/store.js'
import { signWebhook } from '../signature.js'

/** The JSON a webhook receives: the stored body with the message id (the receiver's dedupe key). */
export function webhookPayload(message: OutboxMessage): Record<string, unknown> {
  const { to: _to, ...body } = message.body
  return { id: message.id, ...body }
}

const retryable = (status: number) => status === 408 || status === 429 || status >= 500

export async function deliverWebhook(
  channel: WebhookChannel,
  message: OutboxMessage,
  nowMs: number,
  signal: AbortSignal,
): Promise<void> {
  const raw = JSON.stringify(webhookPayload(message))
  const timestamp = Math.floor(nowMs / 1000)
  const host = new URL(channel.url).host
  let status: number
  try {
    const res = await fetch(channel.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'sdrive-ftp-bridge',
        'x-bridge-delivery': message.id,
        'x-bridge-timestamp': String(timestamp),
        'x-bridge-signature': signWebhook(channel.secret, timestamp, raw),
      },
      body: raw,
      signal,
      // A redirect would resend the signed body to wherever the answer points.
      redirect: 'manual',
    })
    status = res.status
    await res.body?.cancel()
  } catch (error) {
    const reason = signal.aborted ? `no answer within ${channel.timeoutMs} ms` : (error as Error).message
    throw new BridgeError('NOTIFICATION_UNAVAILABLE', `webhook ${host}: ${reason}`, { transient: true })
  }
  if (status >= 200 && status < 300) return
  if (retryable(status)) {
    throw new BridgeError('NOTIFICATION_UNAVAILABLE', `webhook ${host} answered HTTP ${status}`, {
      transient: true,
    })
  }
  throw new BridgeError('NOTIFICATION_REJECTED', `webhook ${host} answered HTTP ${status}`)
}
