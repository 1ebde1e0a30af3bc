/**
 * Backpressure: 2,000 export requests at once against the service running
 * as its own process. The service keeps a bounded queue (queue.maxQueuedItems)
 * and answers 429 with Retry-After beyond it, never a 5xx; every job it
 * accepted is delivered; and its resident memory stays bounded (read from
 * /proc/<pid>/status while the flood and the deliveries run).
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import pino from 'pino'
import t from 'tap'
import { createSalesforceApi } from '../../src/adapters/salesforce/index.js'
import { createSDrive } from '../../src/adapters/sdrive/index.js'
import { parseConfig } from '../../src/config/load.js'
import { type ChildService, childApi, childSetup, exitCodeOf } from '../support/child-service.js'
import { API_KEY } from '../support/harness.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

// Many files through cut connections (or thousands of requests): minutes on a loaded CI machine.
t.setTimeout(10 * 60_000)

const REQUESTS = 2000
const QUEUE_BOUND = 300
const RECORDS = 20
const MiB = 1024 * 1024
/**
 * How far the service's RSS may rise above its resting figure (measured
 * after a warm-up job, so loaded modules are in it). Measured on 2 cores:
 * about +60 MiB with the bound (2,000 sockets and their request buffers,
 * 300 jobs with their store rows and Salesforce/S3/SFTP calls, garbage not
 * yet collected); +240 to +300 MiB when every request became a job driven
 * at once, before submit() counted jobs not yet planned. 128 MiB leaves
 * room for a slower machine without letting the unbounded case pass.
 */
const RSS_GROWTH_BOUND_MIB = 128

interface Answer {
  status: number
  retryAfter: string | null
  body: { jobId?: string; error?: { code: string } }
}

async function rssOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
  return { rss: kib('VmRSS') * 1024, hwm: kib('VmHWM') * 1024 }
}

const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10

function exportRequest(child: ChildService, recordId: string, label: string): Promise<Answer> {
  return fetch(`${child.url}/v1/exports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ flow: 'flood', recordIds: [recordId], metadata: { request: label } }),
  }).then(
    async (res) => ({
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as Answer['body'],
    }),
    (error: Error & { cause?: { code?: string } }) => ({
      status: 0,
      retryAfter: null,
      body: { error: { code: `transport: ${error.cause?.code ?? error.message}` } },
    }),
  )
}

/** The most jobs that were accepted and not finished at the same time, from their own timestamps. */
function peakInFlight(jobs: { createdAt: string; finishedAt: string }[]): number {
  // A job finishing in the same millisecond as another is created freed its slot first.
  const events = jobs
    .flatMap((j) => [
      { at: Date.parse(j.createdAt), delta: 1 },
      { at: Date.parse(j.finishedAt), delta: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.delta - b.delta)
  let now = 0
  let peak = 0
  for (const e of events) {
    now += e.delta
    peak = Math.max(peak, now)
  }
  return peak
}

t.test(
  `${REQUESTS} concurrent export requests: 202 or 429, never 5xx; bounded queue and memory`,
  async (t) => {
    const setup = await childSetup(t, {
      queue: { maxQueuedItems: QUEUE_BOUND, maxConcurrentTransfers: 4 },
      endpoint: { maxConnections: 4 },
      flows: (endpoint) => [
        {
          name: 'flood',
          kind: 'outbound',
          source: {
            object: 'Opportunity',
            fileObject: 'cg__OpportunityFile__c',
            parentField: 'cg__Opportunity__c',
          },
          destination: { endpoint, directory: '/outbox/{job.id}', fileName: '{file.name}' },
          retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 200 },
        },
      ],
    })
    const { sandbox, remoteRoot } = setup

    // The records and their S-Drive files, through the real three-step upload.
    const config = parseConfig(await readFile(setup.configPath, 'utf8'), 'json', setup.env)
    const silent = pino({ level: 'silent' })
    const sdrive = createSDrive(createSalesforceApi(config.salesforce, { logger: silent }), config.sdrive, {
      logger: silent,
    })
    const opportunities: string[] = []
    for (let i = 0; i < RECORDS; i++) {
      const opp = sandbox.insert('Opportunity', { Name: `Deal ${i}`, StageName: 'Closed Won' })
      opportunities.push(opp)
      await seedSDriveFiles(
        sdrive,
        { parentId: opp, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
        [{ name: `contract-${i}.pdf`, content: Buffer.alloc(8 * 1024, i) }],
      )
    }

    const child = await setup.start()
    t.teardown(async () => {
      if (child.proc.exitCode === null) {
        child.proc.kill('SIGKILL')
        await exitCodeOf(child.proc)
      }
    })
    const pid = child.proc.pid as number

    // Warm-up: one job through every code path, so the resting figure includes what it loads.
    const warm = await exportRequest(child, opportunities[0] as string, 'warm-up')
    t.equal(warm.status, 202)
    const warmJob = warm.body.jobId as string
    for (;;) {
      const { state } = (await childApi(child, 'GET', `/v1/jobs/${warmJob}`)).json
      if (!['queued', 'running'].includes(state)) {
        t.equal(state, 'succeeded', 'the warm-up job succeeded')
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const resting = await rssOf(pid)
    let peak = resting.rss
    const sampler = setInterval(() => {
      rssOf(pid).then(
        ({ rss }) => {
          peak = Math.max(peak, rss)
        },
        () => undefined,
      )
    }, 20)
    t.teardown(() => clearInterval(sampler))

    const started = Date.now()
    const answers = await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) =>
        exportRequest(child, opportunities[i % RECORDS] as string, String(i)),
      ),
    )
    const floodMs = Date.now() - started
    const byStatus = new Map<number, number>()
    for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1)
    t.comment(`answers by status: ${JSON.stringify(Object.fromEntries(byStatus))} within ${floodMs} ms`)
    const transport = new Set(answers.filter((a) => a.status === 0).map((a) => a.body.error?.code))
    t.same([...transport], [], 'every request was answered')
    t.notOk(
      answers.some((a) => a.status >= 500),
      'no 5xx',
    )
    const refused = answers.filter((a) => a.status !== 202)
    t.ok(
      refused.every(
        (a) => a.status === 429 && a.body.error?.code === 'QUEUE_FULL' && Number(a.retryAfter) > 0,
      ),
      'every answer that is not 202 is 429 QUEUE_FULL with a Retry-After',
    )
    t.ok(refused.length > 0, `the flood went beyond the bound (${refused.length} refused)`)
    const accepted = answers.filter((a) => a.status === 202).map((a) => a.body.jobId as string)

    // The service is another process: poll its API until no job is queued or running.
    for (;;) {
      const [queued, running] = await Promise.all([
        childApi(child, 'GET', '/v1/jobs?flow=flood&state=queued&limit=1'),
        childApi(child, 'GET', '/v1/jobs?flow=flood&state=running&limit=1'),
      ])
      if (queued.json.jobs.length === 0 && running.json.jobs.length === 0) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const drainedMs = Date.now() - started
    clearInterval(sampler)
    const end = await rssOf(pid)
    peak = Math.max(peak, end.rss)

    const states = new Map<string, number>()
    const problems = new Map<string, number>()
    const jobs: { createdAt: string; finishedAt: string }[] = []
    for (const jobId of accepted) {
      const job = (await childApi(child, 'GET', `/v1/jobs/${jobId}`)).json
      jobs.push(job)
      states.set(job.state, (states.get(job.state) ?? 0) + 1)
      const codes = [job.errorCode, ...job.files.map((f: { errorCode: string | null }) => f.errorCode)]
      for (const code of codes.filter(Boolean)) problems.set(code, (problems.get(code) ?? 0) + 1)
    }
    if (problems.size > 0) t.comment(`errors: ${JSON.stringify(Object.fromEntries(problems))}`)
    t.same(
      Object.fromEntries(states),
      { succeeded: accepted.length },
      `all ${accepted.length} accepted jobs succeeded`,
    )
    const inFlight = peakInFlight(jobs)
    t.ok(inFlight <= QUEUE_BOUND, `at most ${QUEUE_BOUND} jobs in flight at once (${inFlight})`)

    const listed: string[] = []
    for (let cursor: string | null = null; ; ) {
      const page: { jobs: { id: string }[]; nextCursor: string | null } = (
        await childApi(child, 'GET', `/v1/jobs?flow=flood&limit=200${cursor ? `&cursor=${cursor}` : ''}`)
      ).json
      listed.push(...page.jobs.map((j) => j.id))
      cursor = page.nextCursor
      if (!cursor) break
    }
    const expected = [...accepted, warmJob].sort()
    t.same(listed.sort(), expected, 'a refused request left no job behind')
    t.same(
      (await readdir(join(remoteRoot, 'outbox'))).sort(),
      expected,
      'each job delivered into its own folder',
    )
    const counts = await Promise.all(accepted.map((id) => readdir(join(remoteRoot, 'outbox', id))))
    t.ok(
      counts.every((names) => names.length === 1),
      'one file in each, no temporary left',
    )

    t.comment(
      `RSS resting ${mib(resting.rss)} MiB, peak ${mib(peak)} MiB (+${mib(peak - resting.rss)} MiB), ` +
        `VmHWM ${mib(end.hwm)} MiB; ${accepted.length} jobs accepted, all delivered ${drainedMs} ms after the flood began`,
    )
    t.ok(
      peak - resting.rss < RSS_GROWTH_BOUND_MIB * MiB,
      `RSS rose by ${mib(peak - resting.rss)} MiB, less than ${RSS_GROWTH_BOUND_MIB} MiB`,
    )

    child.proc.kill('SIGTERM')
    t.equal(await exitCodeOf(child.proc), 0, 'clean exit')
  },
)
