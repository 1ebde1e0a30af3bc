/**
 * An org at its API limit (issue 18, defect 3): admission's 429 and the
 * bridge_queue_depth gauge count the same work, paused jobs included. The
 * episode itself (500 exports, one shared pause) is api-limit-episode.test.ts.
 */
import t from 'tap'
import {
  episodeFlow,
  metric,
  PROBE_MS,
  QUOTA,
  seedRecords,
  submitAll,
  unfinished,
  until,
} from '../support/api-limit.js'
import { startHarness } from '../support/harness.js'

t.test('admission (429) and bridge_queue_depth count the same work, paused jobs included', async (t) => {
  const BOUND = 30
  const h = await startHarness({
    protocol: 'sftp',
    sandbox: { dailyApiLimit: QUOTA },
    salesforce: { apiLimitProbeIntervalMs: PROBE_MS },
    queue: { maxQueuedItems: BOUND },
    flows: (e) => [episodeFlow(e)],
  })
  t.teardown(() => h.close())
  const records = await seedRecords(h, BOUND + 10)
  // Describe the flow's object before the org runs out (the wrong-object check of submissions).
  const first = await submitAll(h, records.slice(0, 1))
  await until(async () => (await unfinished(h)) === 0, 'the first job')
  h.sandbox.setApiUsage(QUOTA)
  const answers: number[] = []
  for (const id of records.slice(1)) {
    const res = await h.api('POST', '/v1/exports', { body: { flow: 'episode', recordIds: [id] } })
    answers.push(res.status)
    if (res.status === 429) break
  }
  t.equal(answers.at(-1), 429, 'the bound is reached while the org is paused')
  t.equal(answers.filter((s) => s === 202).length, BOUND, `${BOUND} jobs admitted first`)
  await until(() => h.server.bridge.sf.apiLimitPause() !== null, 'the gate to close')
  const depth = await metric(h, 'bridge_queue_depth')
  t.ok(
    depth >= BOUND,
    `bridge_queue_depth (${depth}) says the queue is full, as the 429 did (bound ${BOUND})`,
  )
  h.sandbox.setApiUsage(0)
  await until(async () => (await unfinished(h)) === 0, 'every job to finish')
  t.equal(await metric(h, 'bridge_queue_depth'), 0, 'and empty once the work is done')
  t.equal(first.length, 1)
})
