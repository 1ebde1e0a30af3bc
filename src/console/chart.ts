/** Files per hour as an inline SVG bar chart (done above the axis, failed stacked on top), no library. */
import type { HourBar } from '../services/console-overview.js'
import { type Html, html } from './html.js'

const WIDTH = 840
const HEIGHT = 120
const AXIS = 16

export function hourlyChart(bars: readonly HourBar[]): Html {
  const max = Math.max(1, ...bars.map((b) => b.done + b.failed))
  const step = WIDTH / Math.max(1, bars.length)
  const plot = HEIGHT - AXIS
  const scale = (n: number) => (n / max) * plot
  const days = bars.filter((b) => b.hour.endsWith('T00:00:00.000Z'))
  const total = bars.reduce((sum, b) => ({ done: sum.done + b.done, failed: sum.failed + b.failed }), {
    done: 0,
    failed: 0,
  })
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="Files per hour, last 7 days">
      ${bars.map((b, i) => {
        const done = scale(b.done)
        const failed = scale(b.failed)
        const x = (i * step).toFixed(1)
        const w = Math.max(1, step - 1).toFixed(1)
        return html`<g>
          <title>${`${b.hour.slice(0, 13)}:00 UTC — ${b.done} done, ${b.failed} failed`}</title>
          ${done > 0 ? html`<rect class="bar-done" x=${x} y=${(plot - done).toFixed(1)} width=${w} height=${done.toFixed(1)} />` : null}
          ${failed > 0 ? html`<rect class="bar-failed" x=${x} y=${(plot - done - failed).toFixed(1)} width=${w} height=${failed.toFixed(1)} />` : null}
        </g>`
      })}
      <line class="axis" x1="0" y1=${plot} x2=${WIDTH} y2=${plot} />
      ${days.map((d) => {
        const x = bars.indexOf(d) * step
        return html`<text class="tick" x=${x.toFixed(1)} y=${HEIGHT - 3}>${d.hour.slice(5, 10)}</text>`
      })}
    </svg>
    <figcaption>
      Files per hour, last 7 days (UTC):${' '}
      <span class="key-done">${total.done} done</span>,${' '}
      <span class="key-failed">${total.failed} failed</span>; tallest bar ${max}.
    </figcaption>
  </figure>`
}
