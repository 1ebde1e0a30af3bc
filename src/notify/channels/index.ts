/** One delivery attempt of a message on its channel, under the channel's deadline. */
import type { NotificationsConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { OutboxMessage } from '../../ports/store.js'
import { REJECTION_EMAIL_CHANNEL } from '../outbox.js'
import { deliverEmail, deliverPlatformEvent } from './salesforce.js'
import { deliverWebhook } from './webhook.js'

export interface ChannelLimits {
  perMinute: number
  timeoutMs: number
}

/** A rejection's own recipients go out like a salesforceEmail channel with the defaults. */
const REJECTION_EMAIL_LIMITS: ChannelLimits = { perMinute: 6, timeoutMs: 10_000 }

/** Every channel the worker serves, with its limits. */
export function channelLimits(config: NotificationsConfig): Map<string, ChannelLimits> {
  const out = new Map<string, ChannelLimits>([[REJECTION_EMAIL_CHANNEL, REJECTION_EMAIL_LIMITS]])
  for (const [name, channel] of Object.entries(config.channels)) {
    out.set(name, { perMinute: channel.rateLimit.perMinute, timeoutMs: channel.timeoutMs })
  }
  return out
}

export interface DeliveryContext {
  config: NotificationsConfig
  sf: SalesforceApi
  now: () => number
}

export async function deliver(
  ctx: DeliveryContext,
  message: OutboxMessage,
  signal: AbortSignal,
): Promise<void> {
  const to = Array.isArray(message.body.to) ? (message.body.to as string[]) : null
  if (message.channel === REJECTION_EMAIL_CHANNEL) {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(REJECTION_EMAIL_LIMITS.timeoutMs)])
    return deliverEmail(ctx.sf, to ?? [], message, deadline)
  }
  const channel = ctx.config.channels[message.channel]
  if (!channel) {
    throw new BridgeError('NOTIFICATION_REJECTED', `channel "${message.channel}" is no longer configured`)
  }
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(channel.timeoutMs)])
  if (channel.type === 'webhook') return deliverWebhook(channel, message, ctx.now(), deadline)
  if (channel.type === 'salesforceEmail') return deliverEmail(ctx.sf, channel.to, message, deadline)
  return deliverPlatformEvent(ctx.sf, channel, message, deadline)
}
