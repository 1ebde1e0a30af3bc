/**
 * The channels the org delivers: an email through the standard emailSimple
 * invocable action, and a platform event published as an sObject create.
 * Both go through the SalesforceApi port (auth, API-limit gate, retries);
 * at the API limit they fail at once (a transient fault, tried later)
 * rather than hold the worker at the gate.
 */
import type { PlatformEventChannel } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { OutboxMessage } from '../../ports/store.js'
import type { FailedFile, NotificationBody } from '../compose.js'

const bodyOf = (message: OutboxMessage) => message.body as unknown as NotificationBody

/** The email's plain-text body: the paragraph, then the failed files one per line. */
export function emailText(body: NotificationBody): string {
  const lines = [body.text]
  if (body.files.length > 0) {
    lines.push('', 'Failed files:')
    for (const f of body.files as FailedFile[]) lines.push(`- ${f.path} (${f.code}): ${f.message}`)
    if (body.more > 0) lines.push(`… and ${body.more} more`)
  }
  if (body.runId) lines.push('', `Run: ${body.runId}`)
  return lines.join('\n')
}

export async function deliverEmail(
  sf: SalesforceApi,
  to: readonly string[],
  message: OutboxMessage,
  signal: AbortSignal,
): Promise<void> {
  const body = bodyOf(message)
  const [result] = await sf.invokeStandardAction(
    'emailSimple',
    [{ emailAddresses: to.join(','), emailSubject: body.subject, emailBody: emailText(body) }],
    { signal, whenLimited: 'fail' },
  )
  if (!result?.isSuccess) {
    const errors = result?.errors.map((e) => e.message).join('; ') || 'no result'
    throw new BridgeError('NOTIFICATION_REJECTED', `emailSimple failed: ${errors}`)
  }
}

/** Platform event fields are Text(255) or Long Text; the summary is cut to what a Long Text Area holds. */
const SUMMARY_LIMIT = 32_000

export function platformEventFields(
  channel: PlatformEventChannel,
  message: OutboxMessage,
): Record<string, unknown> {
  const body = bodyOf(message)
  const counts = body.details.counts as { failed?: number } | undefined
  const f = channel.fields
  return {
    [f.event]: body.event,
    [f.flow]: body.flow ?? '',
    [f.runId]: body.runId ?? '',
    [f.summary]: body.text.slice(0, SUMMARY_LIMIT),
    [f.failedCount]: counts?.failed ?? body.files.length + body.more,
  }
}

export async function deliverPlatformEvent(
  sf: SalesforceApi,
  channel: PlatformEventChannel,
  message: OutboxMessage,
  signal: AbortSignal,
): Promise<void> {
  const result = await sf.createRecord(channel.event, platformEventFields(channel, message), {
    signal,
    whenLimited: 'fail',
  })
  if (!result.success) {
    const errors = result.errors.map((e) => e.message).join('; ') || 'no id'
    throw new BridgeError('NOTIFICATION_REJECTED', `publishing ${channel.event} failed: ${errors}`)
  }
}
