/** The review loop's chains: the original file, its rejection, and the resubmissions that answered it. */
import type { ReviewRecord } from '../../ports/store.js'
import { formatTime, stateClass, withQuery } from '../format.js'
import { type Html, html } from '../html.js'
import { page } from '../layout.js'

function chain(r: ReviewRecord): Html {
  return html`<tr id=${r.correlationId}>
    <td><b>${r.originalName}</b><br /><span class="muted">file ${r.fileId} · record ${r.recordId}</span></td>
    <td>
      <span class=${stateClass(r.state === 'resubmitted' ? 'done' : r.state)}>${r.state}</span>${' '}
      <code>${r.reasonCode}</code> ${r.reason}<br />
      <span class="muted">${r.correlationId} · ${formatTime(r.createdAt)}${r.returnedPath ? ` · returned to ${r.returnedPath}` : ''}</span>
      ${r.previousCorrelationId ? html`<br /><span class="muted">answers <a href=${`#${r.previousCorrelationId}`}>${r.previousCorrelationId}</a></span>` : null}
      ${r.error ? html`<br /><code>${r.error.code}</code> ${r.error.message}` : null}
    </td>
    <td>
      ${r.resubmissions.length === 0 ? html`<span class="muted">none yet</span>` : null}
      <ol>
        ${r.resubmissions.map(
          (s) => html`<li>
            <a href=${`/console/runs/${s.runId}`}>${s.fileName}</a>
            <span class="muted">→ ${s.fileId ?? 'not stored yet'} · ${formatTime(s.at)}</span>
          </li>`,
        )}
      </ol>
    </td>
  </tr>`
}

export function rejectionsPage(data: {
  flows: readonly string[]
  flow: string | undefined
  reviews: ReviewRecord[]
  total: number
  csrf: string
}): Html {
  return page(
    { title: 'Rejections', section: 'rejections', csrf: data.csrf },
    html`<form method="get" action="/console/rejections" class="filters">
        <label>Flow
          <select name="flow">
            ${data.flows.map((f) => html`<option value=${f} selected=${f === data.flow}>${f}</option>`)}
          </select>
        </label>
        <button type="submit">Show</button>
      </form>
      ${
        data.flow === undefined
          ? html`<p class="muted">No inbound flow has a review loop configured.</p>`
          : html`<p class="muted">
              ${data.total > data.reviews.length ? `The newest ${data.reviews.length} of ${data.total} rejections of ${data.flow}.` : `${data.total} rejection(s) of ${data.flow}.`}${' '}
              <a href=${withQuery('/console/rejections', { flow: data.flow })}>Reload</a>
            </p>
            <table class="grid">
              <thead><tr><th>Original</th><th>Rejection</th><th>Resubmissions</th></tr></thead>
              <tbody>
                ${data.reviews.length === 0 ? html`<tr><td colspan="3" class="muted">No rejections.</td></tr>` : null}
                ${data.reviews.map(chain)}
              </tbody>
            </table>`
      }`,
  )
}
