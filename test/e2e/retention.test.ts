/**
 * Retention end to end (SFTP): a file taken by a run that retention later
 * pruned is still recognised as processed by the inbound dedupe (the run and
 * the dry run), the pruned run is gone from the API, an Idempotency-Key
 * expires with its run, and the pruned rows are counted in /metrics.
 */
import t from 'tap'
import type { Clock } from '../../src/ports/clock.js'
import {
  API_KEY,
  type Harness,
  sdriveFiles,
  seedRecords,
  standardFlow,
  startHarness,
} from '../support/harness.js'

const dayMs = 86_400_000

t.test('retention prunes old runs; their files stay processed', async (t) => {
  // Real time plus an offset the test moves: "a month later" without waiting a month.
  let offsetMs = 0
  const clock: Clock = {
    now: () => Date.now() + offsetMs,
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, Math.min(ms, 50))
        signal?.addEventListener('abort', () => {
          clearTimeout(timer)
          reject(signal.reason)
        })
      }),
  }
  const h: Harness = await startHarness({
    protocol: 'sftp',
    bridge: { clock },
    flows: (e) => [
      standardFlow(e, {
        name: 'keep',
        source: { endpoint: e, directory: '/keep', include: ['**/*.pdf'], recursive: false },
        after: { success: 'keep', errorDirectory: '/keep-errors' },
      }),
    ],
  })
  t.teardown(() => h.close())
  const ids = seedRecords(h.sandbox)
  const onAcme = (name: string) =>
    sdriveFiles(h.sandbox).filter(
      (f) => f.cg__File_Name__c === name && String(f.cg__Account__c).slice(0, 15) === ids.acme.slice(0, 15),
    )

  await h.put('keep/ACME-001_contract.pdf', 'signed contract')
  const first = await h.runAndWait('keep')
  t.equal(first.counts.done, 1)
  const keyed = await h.api('POST', '/v1/flows/keep/runs', { headers: { 'idempotency-key': 'nightly-1' } })
  t.equal(keyed.status, 202)
  const keyedRun = await h.waitForRun(keyed.json.runId)
  t.equal(keyedRun.counts.total, 0, 'the kept file is not taken twice')

  t.same(
    (await h.server.bridge.retention.pruneNow()).pruned,
    { runs: 0, items: 0, export_jobs: 0, idempotency_keys: 0, reviews: 0 },
    'nothing is older than 30 days yet',
  )

  offsetMs = 31 * dayMs
  const pass = await h.server.bridge.retention.pruneNow()
  t.match(pass, { pruned: { runs: 2, items: 1, idempotency_keys: 1 }, busy: false })
  t.equal((await h.api('GET', `/v1/runs/${first.id}`)).status, 404, 'the pruned run is gone')

  const dry = await h.api('POST', '/v1/flows/keep/runs?dryRun=true')
  t.equal(dry.status, 200)
  t.match(dry.json.files, [{ path: '/keep/ACME-001_contract.pdf', action: 'already-processed' }])

  const again = await h.runAndWait('keep')
  t.equal(again.counts.total, 0, 'a month later the pruned file is still processed')
  t.match(again.notes, [{ reason: 'ALREADY_PROCESSED', path: '/keep/ACME-001_contract.pdf' }])
  t.equal(onAcme('ACME-001_contract.pdf').length, 1, 'uploaded once')

  const retried = await h.api('POST', '/v1/flows/keep/runs', { headers: { 'idempotency-key': 'nightly-1' } })
  t.equal(retried.status, 202)
  t.equal(retried.json.created, true, 'an expired idempotency key is a new request')
  t.not(retried.json.runId, keyedRun.id)
  await h.waitForRun(retried.json.runId)

  const metrics = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } }).then(
    (r) => r.text(),
  )
  t.match(metrics, /bridge_retention_pruned_rows_total\{kind="runs"\} 2/)
  t.match(metrics, /bridge_retention_pruned_rows_total\{kind="items"\} 1/)
  t.match(metrics, /bridge_retention_pruned_rows_total\{kind="idempotency_keys"\} 1/)
})
