/** The test-support PromQL evaluator that checks the documented alerts: its answers on known inputs. */
import t from 'tap'
import { evaluate, parseExposition, parsePromQL, type Scrape, selectorsOf } from '../support/promql.js'

const scrapes: Scrape[] = [
  {
    at: 1000,
    samples: parseExposition(
      [
        '# TYPE x_total counter',
        'x_total{flow="a",state="failed"} 1',
        'x_total{flow="b",state="failed"} 2',
        'q 7',
        'h_bucket{flow="a",le="1"} 0',
        'h_bucket{flow="a",le="10"} 0',
        'h_bucket{flow="a",le="+Inf"} 0',
      ].join('\n'),
    ),
  },
  {
    at: 1600,
    samples: parseExposition(
      [
        'x_total{flow="a",state="failed"} 4',
        'x_total{flow="b",state="failed"} 2',
        'x_total{flow="a",state="succeeded"} 9',
        'q 3',
        'u 30',
        'l 40',
        'h_bucket{flow="a",le="1"} 5',
        'h_bucket{flow="a",le="10"} 10',
        'h_bucket{flow="a",le="+Inf"} 10',
      ].join('\n'),
    ),
  },
]
const run = (expr: string, now = 1600) => evaluate(parsePromQL(expr), scrapes, now)

t.test('selectors, increase, sum by, comparison', async (t) => {
  t.same(run('sum by (flow) (increase(x_total{state=~"failed|partial"}[1h])) > 0'), {
    type: 'vector',
    series: [{ labels: { flow: 'a' }, value: 3 }],
  })
  t.same(
    run('increase(x_total{state="succeeded"}[1h])'),
    { type: 'vector', series: [] },
    'a series with one sample in the range has no increase (as in Prometheus)',
  )
  t.same(
    run('sum by (flow) (increase(x_total[5m]))'),
    { type: 'vector', series: [] },
    'the first scrape is outside 5m',
  )
})

t.test('min_over_time, vector division, time() arithmetic, histogram_quantile', async (t) => {
  t.same(run('min_over_time(q[30m]) > 2'), { type: 'vector', series: [{ labels: {}, value: 3 }] })
  t.same(run('u / l > 0.8'), { type: 'vector', series: [] })
  t.same(run('u / l'), { type: 'vector', series: [{ labels: {}, value: 0.75 }] })
  t.same(run('time() - q > 26 * 3600', 1600 + 26 * 3600), {
    type: 'vector',
    series: [{ labels: {}, value: 26 * 3600 + 1597 }],
  })
  const p = run('histogram_quantile(0.5, sum by (flow, le) (rate(h_bucket[1h])))')
  t.equal(p.type === 'vector' && p.series[0]?.value, 1, 'the median sits at the first bucket bound')
  const p95 = run('histogram_quantile(0.95, sum by (flow, le) (rate(h_bucket[1h])))')
  t.equal(
    p95.type === 'vector' && Math.round((p95.series[0]?.value ?? 0) * 10) / 10,
    9.1,
    'linear within the bucket',
  )
})

t.test('selectorsOf names each metric with the labels the expression uses on it', async (t) => {
  t.same(selectorsOf(parsePromQL('sum by (flow, code) (increase(f_total{code=~"A|B"}[15m])) > 0')), [
    { name: 'f_total', labels: ['code', 'flow'] },
  ])
  t.throws(
    () => parsePromQL('absent(x)'),
    /not supported/,
    'an unknown function is an error, not a silent pass',
  )
})
