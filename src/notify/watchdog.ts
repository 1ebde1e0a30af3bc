/**
 * flow.no_success: a flow with no succeeded run for a rule's `after` gets
 * one message. The dedupe key names the last success (or "never"), so it
 * fires once per quiet period, on however many replicas, and again only
 * after a new success and a new full period.
 */
import type { NotificationRule } from '../config/schema.js'
import { parseDuration } from '../domain/notifications.js'
import type { NewOutboxMessage, Store } from '../ports/store.js'
import { composeNoSuccessMessage } from './compose.js'
import { messageOf } from './outbox.js'

/** Whether a quiet period is over: since the last success, or since watching began when there was none. Pure. */
export function noSuccessDue(
  lastSuccessAt: number | null,
  watchingSince: number,
  afterMs: number,
  now: number,
): boolean {
  return now - (lastSuccessAt ?? watchingSince) >= afterMs
}

export interface WatchdogDeps {
  rules: readonly NotificationRule[]
  flows: readonly string[]
  store: Store
  now: () => number
  /** When this process began watching: the period's start for a flow that never succeeded. */
  watchingSince: number
}

export async function noSuccessMessages(deps: WatchdogDeps): Promise<NewOutboxMessage[]> {
  const out: NewOutboxMessage[] = []
  const now = deps.now()
  for (const rule of deps.rules) {
    const afterMs =
      rule.on.includes('flow.no_success') && typeof rule.after === 'string' ? parseDuration(rule.after) : null
    if (afterMs === null) continue
    const flows = rule.flows.includes('*') ? deps.flows : rule.flows
    for (const flow of flows) {
      const [last] = (await deps.store.listRuns({ flow, state: 'succeeded', limit: 1 })).runs
      const lastAt = last ? Date.parse(last.finishedAt ?? last.createdAt) : null
      if (!noSuccessDue(lastAt, deps.watchingSince, afterMs, now)) continue
      const body = composeNoSuccessMessage({
        flow,
        after: rule.after as string,
        lastSuccessAt: lastAt === null ? null : new Date(lastAt).toISOString(),
        at: new Date(now).toISOString(),
      })
      out.push(messageOf(`no_success:${flow}:${last?.id ?? 'never'}:${rule.channel}`, rule.channel, body))
    }
  }
  return out
}
