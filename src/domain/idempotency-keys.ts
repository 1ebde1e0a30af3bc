/**
 * Idempotency keys come from two places that share one store table: clients
 * (the `Idempotency-Key` header) and the service itself (one key per Outbound
 * Message notification, one per schedule tick). The service's keys keep the
 * format older versions stored, so a notification recorded before an upgrade
 * is still recognised when Salesforce delivers it again; clients may not use
 * those prefixes, so neither side can take the other's key.
 */
import { BridgeError } from './errors.js'

/** Prefixes of the keys the service makes; a client key starting with one is refused. */
export const RESERVED_KEY_PREFIXES = ['outbound-message:', 'schedule:', 'pubsub:'] as const

export function outboundMessageKey(flow: string, notificationId: string): string {
  return `outbound-message:${flow}:${notificationId}`
}

/** One per Pub/Sub event: its EventUuid, or its replay id when it carries none. */
export function pubsubEventKey(flow: string, eventId: string): string {
  return `pubsub:${flow}:${eventId}`
}

export function scheduleTickKey(flow: string, tick: string): string {
  return `schedule:${flow}:${tick}`
}

/**
 * The key to use instead when an older version let a client store a request
 * under one of the service's keys. U+241F is no byte a header can carry
 * (Node reads header bytes as Latin-1), so no client can hold this one.
 */
export function displacedKey(key: string): string {
  return `${key}\u241Finternal`
}

/** Throws IDEMPOTENCY_KEY_RESERVED (a 400 naming the header) for a client key in the service's namespace. */
export function assertClientIdempotencyKey(key: string | undefined): void {
  if (key === undefined) return
  const prefix = RESERVED_KEY_PREFIXES.find((p) => key.startsWith(p))
  if (prefix === undefined) return
  throw new BridgeError(
    'IDEMPOTENCY_KEY_RESERVED',
    `headers.idempotency-key: keys starting with "${prefix}" are reserved for the service's own requests`,
    { details: { field: 'headers.idempotency-key', prefix } },
  )
}
