/**
 * Which channels an event goes to: the rules whose `on` names it and whose
 * `flows` cover the flow. Org-wide events (the API limit) have no flow and
 * match every rule that names them. Pure.
 */
import type { NotificationRule } from '../config/schema.js'
import type { NotificationEvent } from '../domain/notifications.js'

function coversFlow(rule: NotificationRule, flows: readonly string[] | null): boolean {
  if (flows === null || rule.flows.includes('*')) return true
  return flows.some((flow) => rule.flows.includes(flow))
}

/** The rules for an event about these flows (null: an org-wide event), in configuration order. */
export function rulesFor(
  rules: readonly NotificationRule[],
  event: NotificationEvent,
  flows: readonly string[] | null,
): NotificationRule[] {
  return rules.filter((rule) => rule.on.includes(event) && coversFlow(rule, flows))
}

/** The distinct channels an event about these flows goes to. */
export function channelsFor(
  rules: readonly NotificationRule[],
  event: NotificationEvent,
  flows: readonly string[] | null,
): string[] {
  return [...new Set(rulesFor(rules, event, flows).map((rule) => rule.channel))]
}

/** A run's outcome event, by its kind and final state; null when the state is not one to tell. */
export function runOutcomeEvent(
  kind: 'inbound' | 'status' | 'outbound' | 'review',
  state: string,
): NotificationEvent | null {
  if (kind === 'outbound') return state === 'failed' ? 'job.failed' : null
  if (state === 'failed') return 'run.failed'
  if (state === 'partially_failed') return 'run.partially_failed'
  return null
}

/**
 * One message per run and channel: the run event where a rule for it names
 * the channel, else file.failed (when the run has failed files). Never one
 * message per file, however many rules match.
 */
export function runMessagesByChannel(
  rules: readonly NotificationRule[],
  runEvent: NotificationEvent | null,
  flow: string,
  failedFiles: number,
): Map<string, NotificationEvent> {
  const out = new Map<string, NotificationEvent>()
  if (runEvent) for (const channel of channelsFor(rules, runEvent, [flow])) out.set(channel, runEvent)
  if (failedFiles > 0) {
    for (const channel of channelsFor(rules, 'file.failed', [flow])) {
      if (!out.has(channel)) out.set(channel, 'file.failed')
    }
  }
  return out
}
