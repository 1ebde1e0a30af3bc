/**
 * What the bridge tells people about, by name: the events a notification
 * rule may name, and the `after` of a watchdog as a duration. Shared by the
 * configuration's checks and src/notify/.
 */

export const NotificationEvents = [
  'run.failed',
  'run.partially_failed',
  'file.failed',
  'job.failed',
  'rejection.created',
  'salesforce.api_limit',
  'endpoint.unreachable',
  'flow.no_success',
] as const
export type NotificationEvent = (typeof NotificationEvents)[number]

export function isNotificationEvent(value: unknown): value is NotificationEvent {
  return typeof value === 'string' && (NotificationEvents as readonly string[]).includes(value)
}

const unitMs: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/** "90s", "30m", "24h", "7d", "1h30m" → milliseconds; null for anything else (or zero). */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim()
  if (!/^(\d+(ms|s|m|h|d))+$/.test(trimmed)) return null
  let total = 0
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)(ms|s|m|h|d)/g)) {
    total += Number(amount) * (unitMs[unit as string] as number)
  }
  return total > 0 && Number.isSafeInteger(total) ? total : null
}
