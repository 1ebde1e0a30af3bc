/**
 * The notifications that in-memory events bring, off the run event stream
 * (nothing wired twice): the org's API limit, and endpoints that failed N
 * connects in a row. Their dedupe keys keep them idempotent: the API-limit
 * message names the hour it began, so replicas pausing together send one.
 */
import type { NotificationRule } from '../config/schema.js'
import type { NewOutboxMessage } from '../ports/store.js'
import type { RunEvents } from '../runs/events.js'
import { composeApiLimitMessage, composeUnreachableMessage } from './compose.js'
import { messageOf } from './outbox.js'
import { channelsFor, rulesFor } from './rules.js'

/** Faults that mean the server could not be reached or would not let the bridge in. */
export const CONNECT_FAULTS: ReadonlySet<string> = new Set([
  'CONNECTION_LOST',
  'TIMEOUT',
  'HOST_KEY_MISMATCH',
  'TLS_CERTIFICATE_INVALID',
  'REMOTE_AUTH_FAILED',
])

export const DEFAULT_UNREACHABLE_AFTER = 3

export interface WatcherDeps {
  events: RunEvents
  rules: readonly NotificationRule[]
  /** The endpoint each flow connects to. */
  endpointOf: ReadonlyMap<string, string>
  now: () => number
  enqueue(messages: NewOutboxMessage[]): void
}

/** Consecutive failed connects per endpoint, and the rules' thresholds. Pure arithmetic. */
export function unreachableChannels(
  rules: readonly NotificationRule[],
  flows: readonly string[],
  failures: number,
): string[] {
  return rulesFor(rules, 'endpoint.unreachable', flows)
    .filter((rule) => (typeof rule.after === 'number' ? rule.after : DEFAULT_UNREACHABLE_AFTER) === failures)
    .map((rule) => rule.channel)
}

export function watchEvents(deps: WatcherDeps): () => void {
  const failures = new Map<string, number>()
  const flowsOn = (endpoint: string) => [...deps.endpointOf].filter(([, e]) => e === endpoint).map(([f]) => f)
  const iso = () => new Date(deps.now()).toISOString()
  const offApiLimit = deps.events.on('api-limit', (event) => {
    if (!event.paused) return
    const at = iso()
    const hour = at.slice(0, 13)
    const body = composeApiLimitMessage(at)
    deps.enqueue(
      channelsFor(deps.rules, 'salesforce.api_limit', null).map((c) =>
        messageOf(`api_limit:${hour}:${c}`, c, body),
      ),
    )
  })
  const offFault = deps.events.on('fault', (event) => {
    const endpoint = deps.endpointOf.get(event.flow)
    if (!endpoint || event.itemId !== undefined || !CONNECT_FAULTS.has(event.code)) return
    const count = (failures.get(endpoint) ?? 0) + 1
    failures.set(endpoint, count)
    const flows = flowsOn(endpoint)
    const body = composeUnreachableMessage({ endpoint, failures: count, code: event.code, flows, at: iso() })
    const streak = `${endpoint}:${event.runId ?? iso()}`
    deps.enqueue(
      unreachableChannels(deps.rules, flows, count).map((c) =>
        messageOf(`unreachable:${streak}:${c}`, c, body),
      ),
    )
  })
  const offFinished = deps.events.on('run-finished', (event) => {
    const endpoint = deps.endpointOf.get(event.flow)
    if (endpoint && event.state !== 'failed') failures.delete(endpoint)
  })
  return () => {
    offApiLimit()
    offFault()
    offFinished()
  }
}
