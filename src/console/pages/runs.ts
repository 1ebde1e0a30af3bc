/** Runs and jobs: filtered by flow, state and creation time, newest first, a page at a time. */
import type { RunRecord } from '../../ports/store.js'
import { RunStates } from '../../ports/store.js'
import { formatTime, stateClass, withQuery } from '../format.js'
import { type Html, html } from '../html.js'
import { page } from '../layout.js'

export interface RunsFilter {
  flow?: string | undefined
  state?: string | undefined
  from?: string | undefined
  to?: string | undefined
}

function filterForm(filter: RunsFilter, flows: readonly string[]): Html {
  return html`<form method="get" action="/console/runs" class="filters">
    <label>Flow
      <select name="flow">
        <option value="">all</option>
        ${flows.map((f) => html`<option value=${f} selected=${f === filter.flow}>${f}</option>`)}
      </select>
    </label>
    <label>State
      <select name="state">
        <option value="">all</option>
        ${RunStates.map((s) => html`<option value=${s} selected=${s === filter.state}>${s}</option>`)}
      </select>
    </label>
    <label>From (UTC) <input type="datetime-local" name="from" value=${filter.from ?? ''} /></label>
    <label>To (UTC) <input type="datetime-local" name="to" value=${filter.to ?? ''} /></label>
    <button type="submit">Filter</button>
    <a href="/console/runs">Clear</a>
  </form>`
}

export function runsPage(data: {
  runs: RunRecord[]
  nextCursor: string | null
  filter: RunsFilter
  flows: readonly string[]
  csrf: string
}): Html {
  const { runs, filter } = data
  return page(
    { title: 'Runs and jobs', section: 'runs', csrf: data.csrf },
    html`${filterForm(filter, data.flows)}
      <table class="grid">
        <thead>
          <tr><th>Run</th><th>Flow</th><th>State</th><th>Trigger</th><th>Created</th><th>Started</th><th>Finished</th><th>Error</th></tr>
        </thead>
        <tbody>
          ${runs.length === 0 ? html`<tr><td colspan="8" class="muted">No runs match.</td></tr>` : null}
          ${runs.map(
            (r) => html`<tr>
              <td><a href=${`/console/runs/${r.id}`}>${r.id}</a></td>
              <td>${r.flow}</td>
              <td><span class=${stateClass(r.state)}>${r.state}</span></td>
              <td>${r.trigger}</td>
              <td>${formatTime(r.createdAt)}</td>
              <td>${formatTime(r.startedAt)}</td>
              <td>${formatTime(r.finishedAt)}</td>
              <td>${r.error ? html`<code>${r.error.code}</code> ${r.error.message}` : null}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <p class="pager">
        ${data.nextCursor ? html`<a href=${withQuery('/console/runs', { ...filter, cursor: data.nextCursor })}>Older runs →</a>` : html`<span class="muted">No older runs.</span>`}
      </p>`,
  )
}
