/**
 * An org at its API limit (issue 18, defect 3), end to end over real
 * sockets: 500 exports are running when the sandbox org's daily quota runs
 * out; it is reset a few seconds later. The whole org pauses once (one
 * shared gate, one probe call per interval), no job fails for it, every file
 * is delivered exactly once, and the pause is visible (/readyz, the paused
 * gauge, bridge_queue_depth counting what waits). A second test checks that
 * admission's 429 and bridge_queue_depth count the same thing.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { type Harness, OPPORTUNITY_SOURCE, startHarness } from '../support/harness.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

t.setTimeout(10 * 60_000)

const JOBS = Number(process.env.API_LIMIT_EPISODE_JOBS ?? 500)
const QUOTA = 10_000_000
const PROBE_MS = 250
/** How long the org stays at its limit. */
const PAUSE_MS = 3000
const MiB = 1024 * 1024

function episodeFlow(endpoint: string) {
  return {
    name: 'episode',
    kind: 'outbound',
    source: { ...OPPORTUNITY_SOURCE },
    destination: { endpoint, directory: '/outbox/{job.id}', fileName: '{file.name}' },
    // The manifest's record query is the step that used to fail the job with REMOTE_IO.
    manifest: { format: 'csv', recordFields: ['Name'] },
    writeBack: { onSuccess: { Export_Status__c: 'Delivered {file.count}' } },
    // As in the report: a 200 ms longest backoff, which used to mean a call per job every 200 ms.
    retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 200 },
  }
}

async function seedRecords(h: Harness, count: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    ids.push(
      h.sandbox.insert('Opportunity', {
        Name: `Deal ${i}`,
        StageName: 'Closed Won',
        Export_Status__c: 'New',
      }),
    )
  }
  const target = { fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' }
  for (let i = 0; i < ids.length; i += 20) {
    await Promise.all(
      ids
        .slice(i, i + 20)
        .map((parentId, j) =>
          seedSDriveFiles(h.server.bridge.sdrive, { parentId, ...target }, [
            { name: `contract-${i + j}.pdf`, content: `contract ${i + j}` },
          ]),
        ),
    )
  }
  return ids
}

async function submitAll(h: Harness, recordIds: string[]): Promise<string[]> {
  const jobIds: string[] = []
  for (let i = 0; i < recordIds.length; i += 25) {
    const answers = await Promise.all(
      recordIds
        .slice(i, i + 25)
        .map((id) => h.api('POST', '/v1/exports', { body: { flow: 'episode', recordIds: [id] } })),
    )
    for (const a of answers) {
      if (a.status !== 202) throw new Error(`export refused: ${a.status} ${JSON.stringify(a.json)}`)
      jobIds.push(a.json.jobId)
    }
  }
  return jobIds
}

async function metric(h: Harness, name: string): Promise<number> {
  const res = await fetch(`${h.url}/metrics`, {
    headers: { authorization: `Bearer ${h.env.BRIDGE_API_KEY}` },
  })
  const text = await res.text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  if (!line) throw new Error(`no ${name} in /metrics`)
  return Number(line.split(' ')[1])
}

const unfinished = (h: Harness) => h.server.bridge.store.countRuns(['queued', 'running'], ['episode'])

/** State polling: the test watches the service from outside, as an operator would. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

async function deliveredFiles(root: string): Promise<string[]> {
  const out: string[] = []
  for (const dir of await readdir(join(root, 'outbox'))) {
    for (const name of await readdir(join(root, 'outbox', dir))) out.push(`${dir}/${name}`)
  }
  return out
}

t.test(`API-limit episode during ${JOBS} exports: one shared pause, no job fails`, async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    sandbox: { dailyApiLimit: QUOTA },
    salesforce: { apiLimitProbeIntervalMs: PROBE_MS },
    queue: { maxQueuedItems: 5000, maxConcurrentTransfers: 8 },
    endpoint: { maxConnections: 4 },
    flows: (e) => [episodeFlow(e)],
  })
  t.teardown(() => h.close())
  const records = await seedRecords(h, JOBS)
  const rssBefore = process.memoryUsage().rss
  let rssPeak = rssBefore
  const sampleRss = () => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
  }
  const begun = Date.now()
  const jobIds = await submitAll(h, records)

  // The quota runs out while jobs are planning, delivering, writing manifests and writing back.
  const store = h.server.bridge.store
  await until(
    async () => (await store.countRuns(['succeeded'], ['episode'])) >= Math.min(50, JOBS / 5),
    'a first share of jobs',
  )
  h.sandbox.setApiUsage(QUOTA)
  const exhaustedCalls = h.sandbox.apiCallCount()
  await until(() => h.server.bridge.sf.apiLimitPause() !== null, 'the gate to close')
  const closedAt = Date.now()
  const callsAtClose = h.sandbox.apiCallCount()
  const succeededAtClose = await store.countRuns(['succeeded'], ['episode'])

  // The pause is visible and counted while it lasts.
  await sleep(PAUSE_MS / 2)
  sampleRss()
  const ready = await h.api('GET', '/readyz')
  t.equal(ready.status, 200, 'paused is still ready: work waits and resumes by itself')
  t.ok(ready.json.apiLimitPause?.waiting > 0, '/readyz shows the pause and what waits at it')
  t.equal(await metric(h, 'bridge_salesforce_api_limit_paused'), 1)
  const depthDuringPause = await metric(h, 'bridge_queue_depth')
  const waitingJobs = await unfinished(h)
  t.ok(
    depthDuringPause >= waitingJobs && waitingJobs > 0,
    `queue depth ${depthDuringPause} counts the ${waitingJobs} paused jobs`,
  )
  await sleep(PAUSE_MS / 2)
  sampleRss()

  const pausedCalls = h.sandbox.apiCallCount() - callsAtClose
  const pauseMs = Date.now() - closedAt
  h.sandbox.setApiUsage(0)
  await until(async () => {
    sampleRss()
    return (await unfinished(h)) === 0
  }, 'every job to finish')
  const totalSeconds = (Date.now() - begun) / 1000

  const states = new Map<string, number>()
  const jobs = await Promise.all(jobIds.map(async (id) => (await h.api('GET', `/v1/jobs/${id}`)).json))
  for (const job of jobs) states.set(job.state, (states.get(job.state) ?? 0) + 1)
  t.same(Object.fromEntries(states), { succeeded: JOBS }, 'every job delivered, none failed')
  const attempts = jobs.flatMap((j) => j.files.map((f: { attempts: number }) => f.attempts))
  t.equal(attempts.length, JOBS, 'one file per job')
  t.ok(
    attempts.every((a) => a === 1),
    'the pause used no attempt of any file',
  )

  const delivered = await deliveredFiles(h.remoteRoot)
  const contracts = delivered.filter((p) => /\/contract-\d+\.pdf$/.test(p))
  t.equal(contracts.length, JOBS, 'each file delivered exactly once')
  t.equal(new Set(contracts.map((p) => p.split('/')[1])).size, JOBS, 'no file twice')
  t.equal(delivered.filter((p) => /\/manifest-.*\.csv$/.test(p)).length, JOBS, 'one manifest per job')
  const written = h.sandbox.records('Opportunity').filter((r) => r.Export_Status__c === 'Delivered 1')
  t.equal(written.length, JOBS, 'every record written back')

  const bound = Math.floor(pauseMs / PROBE_MS) + 1
  const inFlight = callsAtClose - exhaustedCalls
  t.comment(
    `${JOBS} jobs in ${totalSeconds.toFixed(1)} s; ${succeededAtClose} had finished when the quota ran out; ` +
      `${inFlight} calls were refused before the gate closed (already in flight); ` +
      `pause ${pauseMs} ms at a ${PROBE_MS} ms probe interval: ${pausedCalls} Salesforce calls during it (bound ${bound}); ` +
      `RSS ${(rssBefore / MiB).toFixed(0)} → peak ${(rssPeak / MiB).toFixed(0)} MiB (test process: sandbox, SFTP server and service)`,
  )
  t.ok(
    pausedCalls <= bound,
    `calls during the pause (${pausedCalls}) ≤ one probe per interval + 1 (${bound})`,
  )
  t.ok(pausedCalls >= 1, 'the org was probed during the pause')
})

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
