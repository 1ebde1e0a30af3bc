/**
 * What a notification says, channel-neutral: a subject (email), a
 * one-paragraph `text` (Slack/Teams render it as is), the failed files (at
 * most 20, and how many more) and the event's facts. Channels render this
 * body; it is what the outbox stores, so it never holds a secret. Pure.
 */
import type { NotificationEvent } from '../domain/notifications.js'

export const MAX_LISTED_FILES = 20

export interface FailedFile {
  path: string
  code: string
  message: string
}

export interface NotificationBody {
  event: NotificationEvent
  flow: string | null
  runId: string | null
  subject: string
  text: string
  files: FailedFile[]
  /** Failed files not listed (beyond the first 20). */
  more: number
  /** The event's facts: state, counts, error, endpoint, correlation id, … */
  details: Record<string, unknown>
  /** A rejection's own recipients (its notify.email), instead of the channel's. */
  to?: string[]
  occurredAt: string
}

/** One paragraph: a reason or a file name with line breaks would break the message's layout. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim()

function listFiles(failed: readonly FailedFile[]): { files: FailedFile[]; more: number } {
  const files = failed.slice(0, MAX_LISTED_FILES).map((f) => ({ ...f, message: oneLine(f.message) }))
  return { files, more: Math.max(0, failed.length - files.length) }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

export interface RunOutcome {
  event: NotificationEvent
  flow: string
  runId: string
  state: string
  counts: { total: number; done: number; failed: number; skipped: number }
  failed: readonly FailedFile[]
  error: { code: string; message: string } | null
  at: string
}

export function composeRunMessage(run: RunOutcome): NotificationBody {
  const { files, more } = listFiles(run.failed)
  const what = run.event === 'job.failed' ? 'Export job' : 'Run'
  const outcome = run.state.replace('_', ' ')
  const named = files.map((f) => `${f.path} (${f.code})`).join(', ')
  const parts = [
    `${what} ${run.runId} of flow "${run.flow}" ${outcome}:`,
    `${plural(run.counts.failed, 'file')} failed, ${run.counts.done} done of ${run.counts.total}.`,
    run.error ? `Error ${run.error.code}: ${oneLine(run.error.message)}.` : '',
    named ? `Failed: ${named}${more > 0 ? ` and ${more} more` : ''}.` : '',
  ]
  return {
    event: run.event,
    flow: run.flow,
    runId: run.runId,
    subject: `[bridge] ${run.flow}: ${what.toLowerCase()} ${outcome} (${plural(run.counts.failed, 'failed file')})`,
    text: parts.filter((p) => p !== '').join(' '),
    files,
    more,
    details: { state: run.state, counts: run.counts, error: run.error },
    occurredAt: run.at,
  }
}

export interface RejectionFacts {
  flow: string
  correlationId: string
  fileName: string
  recordId: string
  reasonCode: string
  reason: string
  /** The rest of the rejection's notify object, passed on as context. */
  context: Record<string, unknown>
  to?: string[]
  at: string
}

export function composeRejectionMessage(r: RejectionFacts): NotificationBody {
  return {
    event: 'rejection.created',
    flow: r.flow,
    runId: null,
    subject: `[bridge] ${r.flow}: ${r.fileName} rejected (${r.reasonCode})`,
    text: oneLine(
      `File "${r.fileName}" of record ${r.recordId} was rejected in flow "${r.flow}" (${r.reasonCode}): ${r.reason}. It goes back to the partner as correlation ${r.correlationId}.`,
    ),
    files: [],
    more: 0,
    details: {
      correlationId: r.correlationId,
      fileName: r.fileName,
      recordId: r.recordId,
      reasonCode: r.reasonCode,
      reason: r.reason,
      context: r.context,
    },
    ...(r.to ? { to: r.to } : {}),
    occurredAt: r.at,
  }
}

export function composeApiLimitMessage(at: string): NotificationBody {
  return {
    event: 'salesforce.api_limit',
    flow: null,
    runId: null,
    subject: '[bridge] Salesforce API limit reached: calls paused',
    text: 'The org refused calls with REQUEST_LIMIT_EXCEEDED (its daily API limit). The bridge pauses every Salesforce call and probes until the limit lifts; runs resume by themselves.',
    files: [],
    more: 0,
    details: { paused: true },
    occurredAt: at,
  }
}

export interface Unreachable {
  endpoint: string
  failures: number
  code: string
  flows: readonly string[]
  at: string
}

export function composeUnreachableMessage(u: Unreachable): NotificationBody {
  return {
    event: 'endpoint.unreachable',
    flow: u.flows[0] ?? null,
    runId: null,
    subject: `[bridge] endpoint ${u.endpoint} unreachable (${plural(u.failures, 'failed connect')})`,
    text: `Endpoint "${u.endpoint}" failed ${plural(u.failures, 'time')} in a row (last: ${u.code}); flows ${u.flows.map((f) => `"${f}"`).join(', ')} cannot reach it.`,
    files: [],
    more: 0,
    details: { endpoint: u.endpoint, failures: u.failures, code: u.code, flows: [...u.flows] },
    occurredAt: u.at,
  }
}

export interface NoSuccess {
  flow: string
  after: string
  lastSuccessAt: string | null
  at: string
}

export function composeNoSuccessMessage(n: NoSuccess): NotificationBody {
  const since = n.lastSuccessAt ? `since ${n.lastSuccessAt}` : 'since the bridge started watching'
  return {
    event: 'flow.no_success',
    flow: n.flow,
    runId: null,
    subject: `[bridge] ${n.flow}: no successful run for ${n.after}`,
    text: `Flow "${n.flow}" has had no succeeded run for ${n.after} (${since}).`,
    files: [],
    more: 0,
    details: { after: n.after, lastSuccessAt: n.lastSuccessAt },
    occurredAt: n.at,
  }
}
