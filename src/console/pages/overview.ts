/** Overview: every flow at a glance, and files per hour over the last week. */
import type { FlowOverview, Overview } from '../../services/console-overview.js'
import { hourlyChart } from '../chart.js'
import { formatTime, stateClass, withQuery } from '../format.js'
import { type Html, html } from '../html.js'
import { page } from '../layout.js'

function lastRunCells(flow: FlowOverview): Html {
  if (!flow.lastRun) return html`<td colspan="3" class="muted">no run yet</td>`
  const { run, counts } = flow.lastRun
  return html`<td><a href=${`/console/runs/${run.id}`} class=${stateClass(run.state)}>${run.state}</a></td>
    <td>${formatTime(run.createdAt)}</td>
    <td class="num">${counts.done + counts.skipped} / <span class=${counts.failed > 0 ? 'bad' : undefined}>${counts.failed}</span></td>`
}

export function overviewPage(data: Overview, csrf: string): Html {
  return page(
    { title: 'Overview', section: 'overview', csrf },
    html`${hourlyChart(data.chart)}
      <table class="grid">
        <thead>
          <tr>
            <th>Flow</th><th>Kind</th><th>Endpoint</th><th>Schedule</th><th>Next tick</th>
            <th>Last run</th><th>When</th><th class="num">Done / failed</th><th class="num">Failed 24 h</th>
          </tr>
        </thead>
        <tbody>
          ${data.flows.map(
            (f) => html`<tr>
              <td><a href=${withQuery('/console/runs', { flow: f.name })}>${f.name}</a></td>
              <td>${f.kind}</td>
              <td>${f.endpoint}</td>
              <td>${f.schedule ?? html`<span class="muted">on demand</span>`}</td>
              <td>${formatTime(f.nextTick)}</td>
              ${lastRunCells(f)}
              <td class=${f.failures24h > 0 ? 'num bad' : 'num'}>${f.failures24h}</td>
            </tr>`,
          )}
        </tbody>
      </table>`,
  )
}
