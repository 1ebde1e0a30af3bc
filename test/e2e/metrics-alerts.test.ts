/**
 * Every sample alert of docs/operations.md, evaluated against real scrapes of
 * a running service that has done inbound runs (one succeeded, one with a
 * file that failed) and an export: each metric and label it names exists,
 * and each fires or stays quiet as the scenario says it should. Also the
 * metric names themselves: no doubled prefix, no gauge ending in `_total`,
 * and `bridge_last_success_timestamp_seconds{flow}`.
 */
import { readFile } from 'node:fs/promises'
import t, { type Test } from 'tap'
import { parse as parseYaml } from 'yaml'
import {
  type Harness,
  OPPORTUNITY_SOURCE,
  seedRecords,
  standardFlow,
  startHarness,
} from '../support/harness.js'
import { evaluate, parseExposition, parsePromQL, type Scrape, selectorsOf } from '../support/promql.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

/** Series Prometheus makes itself when it scrapes (not in /metrics): `up` of the scrape job. */
const SCRAPER_SERIES = [
  { name: 'up', labels: { job: 'sdrive-ftp-bridge', instance: 'bridge:8080' }, value: 1 },
]

/** Whether each alert fires after the scenario below (flows `partner-docs` inbound and `contracts` outbound). */
const EXPECTED: Record<string, { fires: string[] | false; operandHasData: boolean }> = {
  BridgeDown: { fires: false, operandHasData: true },
  BridgeRunsFailing: { fires: ['partner-docs'], operandHasData: true },
  BridgeNoSuccessfulRun: { fires: false, operandHasData: true },
  BridgeFilesFailing: { fires: ['partner-docs'], operandHasData: true },
  // No remote auth fault in this scenario, and failure codes have no zero series: names and labels are checked.
  BridgeRemoteAuthOrHostKey: { fires: false, operandHasData: false },
  BridgeSalesforceApiBudget: { fires: false, operandHasData: true },
  BridgeQueueBacklog: { fires: false, operandHasData: true },
  BridgeSlowTransfers: { fires: false, operandHasData: true },
  BridgeRejectionNotReturned: { fires: false, operandHasData: true },
  BridgeStatusRowsRejected: { fires: false, operandHasData: true },
  BridgeMemory: { fires: false, operandHasData: true },
}

async function documentedAlerts(): Promise<{ alert: string; expr: string }[]> {
  const doc = await readFile(new URL('../../docs/operations.md', import.meta.url), 'utf8')
  const section = doc.slice(doc.indexOf('### Sample alerts'))
  const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1]
  if (!block) throw new Error('docs/operations.md has no sample alerts block')
  const rules = (
    parseYaml(block) as { groups: { rules: { alert: string; expr: string }[] }[] }
  ).groups.flatMap((g) => g.rules)
  return rules.map((r) => ({ alert: r.alert, expr: String(r.expr) }))
}

function outboundFlow(endpoint: string) {
  return {
    name: 'contracts',
    kind: 'outbound',
    source: { ...OPPORTUNITY_SOURCE },
    destination: { endpoint, directory: '/outbox/{Name}', fileName: '{file.name}' },
    retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
  }
}

async function scrape(h: Harness): Promise<{ text: string; at: number }> {
  const res = await h.api('GET', '/metrics')
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  return { text: res.json as string, at: Date.now() / 1000 }
}

/** The scenario: a succeeded inbound run, an inbound run with a failed file, a succeeded export. */
async function exercise(t: Test, h: Harness) {
  const ids = seedRecords(h.sandbox)
  await h.put('inbox/ACME-001_contract.pdf', 'contract')
  t.equal((await h.runAndWait('partner-docs')).state, 'succeeded')
  await h.put('inbox/NOPE-999_x.pdf', 'no such account')
  t.equal((await h.runAndWait('partner-docs')).state, 'failed', 'the run with only an unmatched file fails')
  await seedSDriveFiles(
    h.server.bridge.sdrive,
    { parentId: ids.opp, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
    [{ name: 'deal.pdf', content: 'deal' }],
  )
  const res = await h.api('POST', '/v1/exports', { body: { flow: 'contracts', recordIds: [ids.opp] } })
  t.equal(res.status, 202)
  await h.server.bridge.exports.settled(res.json.jobId)
  t.equal((await h.api('GET', `/v1/jobs/${res.json.jobId}`)).json.state, 'succeeded')
}

t.test(
  'metrics: names, the last-success gauge, and every documented alert against real scrapes',
  async (t) => {
    const h = await startHarness({ protocol: 'sftp', flows: (e) => [standardFlow(e), outboundFlow(e)] })
    t.teardown(() => h.close())
    const first = await scrape(h)
    await exercise(t, h)
    const second = await scrape(h)
    const scrapes: Scrape[] = [first, second].map((s) => ({
      at: s.at,
      samples: [...parseExposition(s.text), ...SCRAPER_SERIES],
    }))
    const text = second.text
    const types = new Map(
      [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]),
    )

    t.test('metric names: one bridge_ prefix, no gauge named like a counter', async (t) => {
      t.equal(types.get('bridge_process_resident_memory_bytes'), 'gauge')
      t.equal(types.get('bridge_process_cpu_seconds_total'), 'counter')
      t.equal(types.get('bridge_nodejs_eventloop_lag_seconds'), 'gauge')
      t.same(
        [...types.keys()].filter((n) => !n.startsWith('bridge_') || n.includes('process_process')),
        [],
        'every name starts with bridge_ once',
      )
      t.same(
        [...types].filter(([n, type]) => type === 'gauge' && n.endsWith('_total')).map(([n]) => n),
        [],
        'no gauge ends in _total',
      )
    })

    t.test(
      'bridge_last_success_timestamp_seconds{flow}: the time of the last succeeded run or export job',
      async (t) => {
        t.equal(types.get('bridge_last_success_timestamp_seconds'), 'gauge')
        const stamps =
          scrapes[1]?.samples.filter((s) => s.name === 'bridge_last_success_timestamp_seconds') ?? []
        t.same(stamps.map((s) => s.labels.flow).sort(), ['contracts', 'partner-docs'])
        for (const s of stamps) {
          t.ok(
            s.value >= first.at - 1 && s.value <= second.at + 1,
            `${s.labels.flow}: stamped during the scenario`,
          )
        }
        t.notOk(
          scrapes[0]?.samples.some((s) => s.name === 'bridge_last_success_timestamp_seconds'),
          'no series before a flow first succeeds',
        )
      },
    )

    const alerts = await documentedAlerts()
    t.same(
      alerts.map((a) => a.alert).sort(),
      Object.keys(EXPECTED).sort(),
      'every documented alert is examined',
    )
    const registry = h.server.bridge.metrics.registry
    for (const { alert, expr } of alerts) {
      t.test(`${alert}: ${expr}`, async (t) => {
        const parsed = parsePromQL(expr)
        for (const { name, labels } of selectorsOf(parsed)) {
          if (SCRAPER_SERIES.some((s) => s.name === name)) continue
          const base = name.replace(/_(bucket|sum|count)$/, '')
          const type = types.get(name) ?? types.get(base)
          t.ok(type, `${name} is exposed`)
          if (name !== base) t.equal(type, 'histogram', `${name} is a histogram's series`)
          const metric = registry.getSingleMetric(base) as unknown as { labelNames?: string[] } | undefined
          const known = new Set([...(metric?.labelNames ?? []), ...(name.endsWith('_bucket') ? ['le'] : [])])
          for (const label of labels) t.ok(known.has(label), `${name} has the label ${label}`)
        }
        const expected = EXPECTED[alert]
        if (!expected) return
        const now = second.at
        const result = evaluate(parsed, scrapes, now)
        const firing = result.type === 'vector' ? result.series : []
        if (expected.fires === false) t.same(firing, [], 'does not fire')
        else
          t.same(firing.map((s) => s.labels.flow).sort(), expected.fires, 'fires for the flows that failed')
        if (parsed.kind === 'binary' && expected.operandHasData) {
          const operand = evaluate(parsed.lhs, scrapes, now)
          t.ok(operand.type === 'vector' && operand.series.length > 0, 'its operand matches real series')
        }
      })
    }
  },
)
