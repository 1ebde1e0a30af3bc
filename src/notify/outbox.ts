/**
 * The NotificationOutbox: turns a run's final state and a new rejection
 * into outbox messages (one per channel), which the store writes in the
 * same transaction as the event. Dedupe keys name the event and channel,
 * so writing them again (a replica, a retry of the same finish) is a no-op.
 */
import { createHash } from 'node:crypto'
import type { NotificationsConfig } from '../config/schema.js'
import { BridgeError } from '../domain/errors.js'
import type { NotificationOutbox } from '../ports/outbox.js'
import type { NewOutboxMessage, NewReview, RunRecord, RunState, Store } from '../ports/store.js'
import type { RunKind } from '../runs/events.js'
import {
  composeRejectionMessage,
  composeRunMessage,
  type FailedFile,
  type NotificationBody,
} from './compose.js'
import { channelsFor, runMessagesByChannel, runOutcomeEvent } from './rules.js'

/** The channel of a rejection's own email recipients (notify.email): not a configured name (those match [A-Za-z0-9]…). */
export const REJECTION_EMAIL_CHANNEL = '@email'

const emailPattern = /^[^\s@,]+@[^\s@,]+$/

export function messageOf(dedupeKey: string, channel: string, body: NotificationBody): NewOutboxMessage {
  return {
    dedupeKey,
    channel,
    event: body.event,
    flow: body.flow,
    runId: body.runId,
    body: body as unknown as Record<string, unknown>,
  }
}

export interface OutboxDeps {
  config: NotificationsConfig
  store: Store
  kinds: ReadonlyMap<string, RunKind>
  now: () => number
}

async function runMessages(
  deps: OutboxDeps,
  run: RunRecord,
  state: RunState,
  error: { code: string; message: string } | null,
): Promise<NewOutboxMessage[]> {
  const runEvent = runOutcomeEvent(deps.kinds.get(run.flow) ?? 'inbound', state)
  const { rules } = deps.config
  const mayTell =
    (runEvent !== null && channelsFor(rules, runEvent, [run.flow]).length > 0) ||
    channelsFor(rules, 'file.failed', [run.flow]).length > 0
  // Reading the run's items costs; a run no rule speaks of (most succeed) skips it.
  if (!mayTell || state === 'succeeded') return []
  const items = await deps.store.listItems(run.id)
  const failed: FailedFile[] = items
    .filter((item) => item.state === 'failed')
    .map((item) => ({
      path: item.path,
      code: item.error?.code ?? 'UNKNOWN',
      message: item.error?.message ?? '',
    }))
  const counts = {
    total: items.length,
    done: items.filter((i) => i.state === 'done').length,
    failed: failed.length,
    skipped: items.filter((i) => i.state === 'skipped').length,
  }
  const at = new Date(deps.now()).toISOString()
  const outcome = outcomeKey(state, error, items)
  const out: NewOutboxMessage[] = []
  for (const [channel, event] of runMessagesByChannel(rules, runEvent, run.flow, failed.length)) {
    const body = composeRunMessage({ event, flow: run.flow, runId: run.id, state, counts, failed, error, at })
    out.push(messageOf(`run:${run.id}:${outcome}:${channel}`, channel, body))
  }
  return out
}

/**
 * Names one ending of a run: the same for the same ending written twice, and
 * another once a retry of the run ends again (its failed items changed since).
 */
function outcomeKey(
  state: RunState,
  error: { code: string } | null,
  items: readonly { id: string; state: string; updatedAt: string }[],
): string {
  const failed = items.filter((i) => i.state === 'failed').map((i) => `${i.id}@${i.updatedAt}`)
  return createHash('sha256')
    .update([state, error?.code ?? '', ...failed].join('|'))
    .digest('hex')
    .slice(0, 16)
}

function emailsOf(notify: Record<string, unknown> | undefined): string[] {
  if (typeof notify?.email !== 'string') return []
  return notify.email
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
}

export function createNotificationOutbox(deps: OutboxDeps): NotificationOutbox {
  const channelNames = Object.keys(deps.config.channels)
  return {
    forRun: (run, state, error) => runMessages(deps, run, state, error),

    checkRejectionNotify(notify) {
      if (notify === undefined) return
      if (notify.channel !== undefined && !channelNames.includes(String(notify.channel))) {
        const known = channelNames.length > 0 ? channelNames.join(', ') : 'none'
        throw new BridgeError(
          'VALIDATION_FAILED',
          `body.notify.channel: unknown channel "${String(notify.channel)}" (configured: ${known})`,
          { details: { field: 'body.notify.channel' } },
        )
      }
      const bad = emailsOf(notify).find((e) => !emailPattern.test(e))
      if (bad !== undefined || (notify.email !== undefined && emailsOf(notify).length === 0)) {
        throw new BridgeError(
          'VALIDATION_FAILED',
          `body.notify.email: a comma-separated list of email addresses, got "${String(notify.email)}"`,
          { details: { field: 'body.notify.email' } },
        )
      }
    },

    forRejection(review: NewReview) {
      const notify = review.notify ?? {}
      const { email: _email, channel: ownChannel, ...context } = notify
      const at = new Date(deps.now()).toISOString()
      const facts = {
        flow: review.flow,
        correlationId: review.correlationId,
        fileName: review.originalName,
        recordId: review.recordId,
        reasonCode: review.reasonCode,
        reason: review.reason,
        context,
        at,
      }
      const key = (channel: string) => `rejection:${review.correlationId}:${channel}`
      const channels = new Set(channelsFor(deps.config.rules, 'rejection.created', [review.flow]))
      if (typeof ownChannel === 'string') channels.add(ownChannel)
      const out = [...channels].map((c) => messageOf(key(c), c, composeRejectionMessage(facts)))
      const to = emailsOf(notify)
      if (to.length > 0) {
        out.push(
          messageOf(
            key(REJECTION_EMAIL_CHANNEL),
            REJECTION_EMAIL_CHANNEL,
            composeRejectionMessage({ ...facts, to }),
          ),
        )
      }
      return out
    },
  }
}
