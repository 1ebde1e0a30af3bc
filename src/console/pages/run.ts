/**
 * One run: counts, a live progress bar (the script follows the run's event
 * stream), its items a page at a time, and the operator's actions.
 */
import type { ItemRecord, RunCounts, RunRecord } from '../../ports/store.js'
import { ItemStates } from '../../ports/store.js'
import { toItemView } from '../../services/run-views.js'
import { formatBytes, formatTime, stateClass, withQuery } from '../format.js'
import { type Html, html } from '../html.js'
import { csrfField, page } from '../layout.js'

export interface RunPageData {
  run: RunRecord
  kind: 'inbound' | 'status' | 'outbound' | null
  counts: RunCounts
  items: ItemRecord[]
  nextCursor: string | null
  stateFilter: string | undefined
  /** The org's instance URL, for links to records; null before the bridge signed in. */
  instanceUrl: string | null
  csrf: string
  notice?: string | undefined
}

const ACTIVE = ['waiting_for_window', 'queued', 'running']

function actions(d: RunPageData): Html {
  const { run } = d
  const action = (path: string, label: string, confirm: string) =>
    html`<form method="post" action=${path} data-confirm=${confirm}>
      ${csrfField(d.csrf)}<button type="submit">${label}</button>
    </form>`
  return html`<div class="actions">
    ${d.counts.failed > 0 ? action(`/console/runs/${run.id}/retry`, 'Retry failed', `Retry the ${d.counts.failed} failed file(s) of this run?`) : null}
    ${ACTIVE.includes(run.state) ? action(`/console/runs/${run.id}/cancel`, 'Cancel', 'Cancel this run? Files not yet moved are left for a later run.') : null}
    ${d.kind === 'inbound' ? action(`/console/flows/${run.flow}/dry-run`, 'Dry run', `Plan a run of ${run.flow} now? Nothing is moved.`) : null}
  </div>`
}

function summary(d: RunPageData): Html {
  const { run, counts } = d
  const finished = counts.done + counts.skipped + counts.failed
  return html`<dl class="facts">
      <dt>Flow</dt><dd>${run.flow}</dd>
      <dt>State</dt><dd><span id="run-state" class=${stateClass(run.state)}>${run.state}</span></dd>
      <dt>Trigger</dt><dd>${run.trigger}</dd>
      <dt>Created</dt><dd>${formatTime(run.createdAt)}</dd>
      <dt>Started</dt><dd>${formatTime(run.startedAt)}</dd>
      <dt>Finished</dt><dd>${formatTime(run.finishedAt)}</dd>
      ${run.error ? html`<dt>Error</dt><dd><code>${run.error.code}</code> ${run.error.message}</dd>` : null}
    </dl>
    <div class="progress">
      <progress
        id="run-progress"
        max=${Math.max(1, counts.total)}
        value=${finished}
        data-events=${ACTIVE.includes(run.state) ? `/console/runs/${run.id}/events` : undefined}
      ></progress>
      <span id="run-progress-text">${finished} of ${counts.total} files finished, ${counts.failed} failed</span>
    </div>
    <ul class="counts">
      ${(['pending', 'transferring', 'finalizing', 'done', 'skipped', 'failed'] as const).map(
        (s) =>
          html`<li><a href=${withQuery(`/console/runs/${run.id}`, { state: s })}>${s}</a> <b data-count=${s}>${counts[s]}</b></li>`,
      )}
      <li>bytes <b>${formatBytes(counts.bytesDone)}</b></li>
    </ul>`
}

function itemRow(item: ItemRecord, instanceUrl: string | null): Html {
  const view = toItemView(item)
  const recordId = view.targetRecordId ?? item.target?.recordId ?? null
  return html`<tr data-item=${item.id}>
    <td class="path">${view.path}</td>
    <td><span class=${stateClass(view.state)}>${view.state}</span></td>
    <td>${recordId ? (instanceUrl ? html`<a href=${`${instanceUrl}/${recordId}`} rel="noreferrer">${recordId}</a>` : recordId) : '—'}</td>
    <td>${view.sdriveFileId ?? item.target?.fileId ?? '—'}</td>
    <td class="num">${formatBytes(view.size)}</td>
    <td class="hash">${view.sha256 ? html`<code title=${view.sha256}>${view.sha256.slice(0, 12)}…</code>` : '—'}</td>
    <td class="num">${view.attempts}</td>
    <td>${view.errorCode ? html`<code>${view.errorCode}</code> ${view.errorMessage}` : null}</td>
  </tr>`
}

function itemTable(d: RunPageData): Html {
  const base = `/console/runs/${d.run.id}`
  return html`<form method="get" action=${base} class="filters">
      <label>Item state
        <select name="state">
          <option value="">all</option>
          ${ItemStates.map((s) => html`<option value=${s} selected=${s === d.stateFilter}>${s}</option>`)}
        </select>
      </label>
      <button type="submit">Filter</button>
    </form>
    <table class="grid items">
      <thead>
        <tr><th>Source path</th><th>State</th><th>Target record</th><th>S-Drive file</th><th class="num">Size</th><th>SHA-256</th><th class="num">Attempts</th><th>Error</th></tr>
      </thead>
      <tbody>
        ${d.items.length === 0 ? html`<tr><td colspan="8" class="muted">No items.</td></tr>` : null}
        ${d.items.map((i) => itemRow(i, d.instanceUrl))}
      </tbody>
    </table>
    <p class="pager">
      ${d.nextCursor ? html`<a href=${withQuery(base, { state: d.stateFilter, cursor: d.nextCursor })}>Next items →</a>` : html`<span class="muted">End of the list.</span>`}
    </p>`
}

export function runPage(d: RunPageData): Html {
  return page(
    { title: `Run ${d.run.id}`, section: 'runs', csrf: d.csrf, notice: d.notice },
    html`${actions(d)}${summary(d)}
      ${d.run.notes.length > 0 ? html`<details><summary>${d.run.notes.length} note(s)</summary><ul>${d.run.notes.map((n) => html`<li><code>${n.reason}</code> ${n.path}: ${n.message}</li>`)}</ul></details>` : null}
      ${itemTable(d)}`,
  )
}
