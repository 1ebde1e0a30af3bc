/** The notification outbox: each message, where it goes, and whether it was sent, waits or failed. */
import type { NotificationView } from '../../notify/service.js'
import { formatTime, withQuery } from '../format.js'
import { type Html, html } from '../html.js'
import { page } from '../layout.js'

const STATES = ['', 'pending', 'sending', 'sent', 'failed'] as const

/** Sent is good news, failed bad, the rest still on their way. */
function outboxStateClass(state: string): string {
  if (state === 'sent') return 'state state-ok'
  if (state === 'failed') return 'state state-bad'
  if (state === 'sending') return 'state state-busy'
  return 'state state-idle'
}

function row(n: NotificationView): Html {
  const files = n.files.map((f) => f.path).join(', ') + (n.more > 0 ? ` and ${n.more} more` : '')
  return html`<tr>
    <td>${formatTime(n.createdAt)}</td>
    <td><b>${n.event}</b><br /><span class="muted">${n.flow ?? ''}</span>
      ${n.runId ? html`<br /><a href=${`/console/runs/${n.runId}`}>${n.runId}</a>` : null}</td>
    <td>${n.channel}<br /><span class="muted">${n.channelType} · ${n.destination}</span></td>
    <td>${n.subject}${files ? html`<br /><span class="muted">${files}</span>` : null}</td>
    <td>
      <span class=${outboxStateClass(n.state)}>${n.state}</span>
      <br /><span class="muted">${n.attempts} attempt(s)${
        n.state === 'sent' ? ` · sent ${formatTime(n.sentAt)}` : ''
      }${n.state === 'pending' ? ` · next ${formatTime(n.nextAttemptAt)}` : ''}</span>
      ${n.lastError ? html`<br /><code>${n.lastError.code}</code> ${n.lastError.message}` : null}
    </td>
  </tr>`
}

export function notificationsPage(data: {
  notifications: NotificationView[]
  nextCursor: string | null
  channels: readonly string[]
  filter: { state: string | undefined; channel: string | undefined }
  csrf: string
}): Html {
  const { filter } = data
  return page(
    { title: 'Notifications', section: 'notifications', csrf: data.csrf },
    html`<form method="get" action="/console/notifications" class="filters">
        <label>State
          <select name="state">
            ${STATES.map((s) => html`<option value=${s} selected=${s === (filter.state ?? '')}>${s || 'any'}</option>`)}
          </select>
        </label>
        <label>Channel
          <select name="channel">
            <option value="">any</option>
            ${data.channels.map((c) => html`<option value=${c} selected=${c === filter.channel}>${c}</option>`)}
          </select>
        </label>
        <button type="submit">Show</button>
      </form>
      <table class="grid">
        <thead><tr><th>Created</th><th>Event</th><th>Channel</th><th>Message</th><th>Delivery</th></tr></thead>
        <tbody>
          ${data.notifications.length === 0 ? html`<tr><td colspan="5" class="muted">No notifications.</td></tr>` : null}
          ${data.notifications.map(row)}
        </tbody>
      </table>
      ${
        data.nextCursor
          ? html`<p><a href=${withQuery('/console/notifications', { ...filter, cursor: data.nextCursor })}>Older →</a></p>`
          : null
      }`,
  )
}
