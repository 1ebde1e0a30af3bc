/**
 * Fault injection end to end: the service talks to its SFTP / FTP server
 * through the TCP fault proxy (test/support/fault-proxy.ts) and to a
 * Salesforce sandbox that fails calls on purpose.
 *
 * - Every connection cut after 1 MiB (FTP: control and data connections of
 *   a session together) and Salesforce answering 503 to every fifth REST
 *   call: an inbound run of 300 files and 100 export jobs still complete,
 *   and every file is delivered exactly once (S-Drive records, S3 bytes,
 *   the remote folders).
 * - The session / API-limit variants and S3 500s: the same, smaller; a
 *   transient Salesforce fault while an export job is planned is retried
 *   with the flow's backoff, an API limit is waited out.
 * - A file larger than what a connection lives for cannot get through
 *   (reads are not resumed): it fails with CONNECTION_LOST after exactly
 *   `retry.maxAttempts` attempts, the rest of the run completes.
 * - Permanent faults (wrong password, missing directory) fail the run or
 *   the job with their code at the first attempt: one connection, no retry.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { SALESFORCE_FAULTS } from '../../src/sandbox/salesforce/index.js'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js'
import {
  type ExternalRemoteServer,
  endpointConfig,
  type Harness,
  sdriveFiles,
  seedRecords,
  standardFlow,
  startHarness,
  startRemoteServer,
  wipRecords,
} from '../support/harness.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

// Many files through cut connections (or thousands of requests): minutes on a loaded CI machine.
t.setTimeout(10 * 60_000)

type Protocol = 'sftp' | 'ftp'

const KiB = 1024
const MiB = 1024 * KiB
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** The in-process server for `protocol`, reached by the service only through a fault proxy. */
function behindProxy(protocol: Protocol) {
  const handle: { proxy?: FaultProxy } = {}
  const server: ExternalRemoteServer = {
    async start(root) {
      const remote = await startRemoteServer(protocol, root)
      const proxy = await startFaultProxy({
        target: { host: '127.0.0.1', port: remote.port },
        protocol: protocol === 'ftp' ? 'ftp' : 'tcp',
      })
      handle.proxy = proxy
      return {
        remote: {
          host: proxy.host,
          port: proxy.port,
          ...(remote.hostKeySha256 ? { hostKeySha256: remote.hostKeySha256 } : {}),
          async close() {
            await proxy.close()
            await remote.close()
          },
        },
        endpoint: { ...endpointConfig(protocol, remote), port: proxy.port },
      }
    },
  }
  return {
    server,
    get proxy(): FaultProxy {
      if (!handle.proxy) throw new Error('the proxy has not started')
      return handle.proxy
    },
  }
}

function inboundFlow(endpoint: string, overrides: Record<string, unknown> = {}) {
  return standardFlow(endpoint, {
    // Strict: a file uploaded twice would show as two S-Drive records instead of being skipped.
    existing: 'duplicate',
    retry: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 100 },
    ...overrides,
  })
}

function exportFlow(endpoint: string, overrides: Record<string, unknown> = {}) {
  return {
    name: 'exports',
    kind: 'outbound',
    source: {
      object: 'Opportunity',
      fileObject: 'cg__OpportunityFile__c',
      parentField: 'cg__Opportunity__c',
    },
    // A second delivery of the same file would show as "<name> (<job>)" beside it.
    destination: { endpoint, directory: '/outbox/{Name}', fileName: '{file.name}', existing: 'rename' },
    retry: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 100 },
    ...overrides,
  }
}

/** Deterministic content of a given size, different for every name. */
function content(name: string, size: number): Buffer {
  const seed = createHash('sha256').update(name).digest()
  const out = Buffer.alloc(size)
  for (let i = 0; i < size; i += seed.length) seed.copy(out, i)
  out.write(name, 0, 'latin1')
  return out
}

/** Drops `count` partner files of 16–240 KiB into /inbox; returns name → bytes. */
async function dropInbound(h: Harness, count: number, prefix = 'doc'): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>()
  for (let i = 0; i < count; i++) {
    const name = `ACME-001_${prefix}-${String(i).padStart(3, '0')}.pdf`
    const bytes = content(name, 16 * KiB + ((i * 7919) % (224 * KiB)))
    files.set(name, bytes)
    await h.put(`inbox/${name}`, bytes)
  }
  return files
}

/** `count` opportunities, each with one S-Drive file of 24–180 KiB; returns record id → file. */
async function seedExports(h: Harness, count: number) {
  const records = new Map<string, { name: string; fileName: string; bytes: Buffer }>()
  for (let i = 0; i < count; i++) {
    const name = `Deal-${String(i).padStart(3, '0')}`
    const id = h.sandbox.insert('Opportunity', { Name: name, StageName: 'Closed Won' })
    const fileName = `contract-${i}.pdf`
    const bytes = content(`${name}/${fileName}`, 24 * KiB + ((i * 104_729) % (156 * KiB)))
    await seedSDriveFiles(
      h.server.bridge.sdrive,
      { parentId: id, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
      [{ name: fileName, content: bytes }],
    )
    records.set(id, { name, fileName, bytes })
  }
  return records
}

/** Every inbound file exactly once in S-Drive (whole) and in /processed, nothing left or failed. */
async function checkInboundExactlyOnce(t: Test, h: Harness, files: Map<string, Buffer>) {
  const records = sdriveFiles(h.sandbox)
  const names = records.map((r) => String(r.cg__File_Name__c)).sort()
  t.same(names, [...files.keys()].sort(), 'each file exactly once in S-Drive')
  t.equal(wipRecords(h.sandbox).length, 0, 'no WIP record left behind')
  let whole = 0
  for (const record of records) {
    const bytes = await h.sandbox.s3Object(String(record.cg__Key__c))
    if (bytes && sha256(bytes) === sha256(files.get(String(record.cg__File_Name__c)) as Buffer)) whole++
  }
  t.equal(whole, files.size, 'every S3 object holds the whole file')
  t.same(await h.list('inbox'), [], 'the inbox is empty')
  t.same(await h.list('processed'), [...files.keys()].sort(), 'each source moved to /processed once')
  t.same(await h.list('errors'), [], 'nothing in /errors')
}

/** Each record's file exactly once, whole, in its folder: no temporary, no renamed second copy. */
async function checkExportsExactlyOnce(
  t: Test,
  h: Harness,
  records: Map<string, { name: string; fileName: string; bytes: Buffer }>,
) {
  const folders = await h.list('outbox')
  t.same(folders, [...records.values()].map((r) => r.name).sort(), 'one folder per record')
  let exact = 0
  for (const r of records.values()) {
    const names = await readdir(join(h.remoteRoot, 'outbox', r.name))
    const bytes = await readFile(join(h.remoteRoot, 'outbox', r.name, r.fileName)).catch(() => null)
    if (names.length === 1 && names[0] === r.fileName && bytes?.equals(r.bytes)) exact++
    else t.fail(`outbox/${r.name}: ${JSON.stringify(names)}`)
  }
  t.equal(exact, records.size, 'every exported file delivered exactly once, whole')
}

/** Sum over items of attempts beyond the first. */
const retriesOf = (items: { attempts: number }[]) =>
  items.reduce((n, i) => n + Math.max(0, i.attempts - 1), 0)

async function submitExports(h: Harness, recordIds: string[]): Promise<string[]> {
  const answers = await Promise.all(
    recordIds.map((id) => h.api('POST', '/v1/exports', { body: { flow: 'exports', recordIds: [id] } })),
  )
  for (const a of answers) if (a.status !== 202) throw new Error(`export refused: ${a.status}`)
  return answers.map((a) => a.json.jobId as string)
}

/** Waits until every job has ended (each 'run-settled' event wakes a look at the store), then reads them. */
async function jobsOf(h: Harness, jobIds: string[]) {
  const { events, store } = h.server.bridge
  const open = new Set(jobIds)
  let wake = () => {}
  const onSettled = () => wake()
  const off = events.on('run-settled', onSettled)
  try {
    for (;;) {
      const woken = new Promise<void>((resolve) => {
        wake = resolve
      })
      for (const id of [...open]) {
        const job = await store.getRun(id)
        if (job && !['queued', 'running'].includes(job.state)) open.delete(id)
      }
      if (open.size === 0) break
      await woken
    }
  } finally {
    off()
  }
  return Promise.all(jobIds.map(async (id) => (await h.api('GET', `/v1/jobs/${id}`)).json))
}

for (const protocol of ['sftp', 'ftp'] as const) {
  t.test(`${protocol}: every connection cut after 1 MiB, Salesforce 503 on every 5th call`, async (t) => {
    const remote = behindProxy(protocol)
    const h = await startHarness({
      protocol,
      remoteServer: remote.server,
      flows: (endpoint) => [inboundFlow(endpoint), exportFlow(endpoint)],
      endpoint: { maxConnections: 4 },
      // Room for the adapter's own retries: with calls from 100 jobs interleaving, the same call can
      // meet the fault more than once in a row.
      salesforce: { maxRetries: 8, timeoutMs: 60_000 },
    })
    t.teardown(() => h.close())
    seedRecords(h.sandbox)
    const exports = await seedExports(h, 100)
    const inbound = await dropInbound(h, 300)

    remote.proxy.setRule({ action: 'cut', afterBytes: MiB })
    h.sandbox.failEvery('rest', 5, SALESFORCE_FAULTS.unavailable)
    const started = Date.now()
    const runStart = await h.api('POST', '/v1/flows/partner-docs/runs')
    t.equal(runStart.status, 202)
    const jobIds = await submitExports(h, [...exports.keys()])
    const [run, jobs] = await Promise.all([h.waitForRun(runStart.json.runId), jobsOf(h, jobIds)])
    const elapsed = Date.now() - started

    t.equal(run.state, 'succeeded', 'the inbound run completes')
    t.match(run.counts, { done: 300, failed: 0 })
    t.same(
      jobs.filter((j) => j.state !== 'succeeded').map((j) => [j.id, j.state, j.errorCode]),
      [],
      'all 100 export jobs succeed',
    )
    await checkInboundExactlyOnce(t, h, inbound)
    await checkExportsExactlyOnce(t, h, exports)

    const stats = remote.proxy.stats()
    const injected = h.sandbox.injectedFaults()
    const restFaults =
      (injected.query ?? 0) + (injected.sobject ?? 0) + (injected.composite ?? 0) + (injected.apex ?? 0)
    const inboundRetries = retriesOf(run.items)
    const exportRetries = retriesOf(jobs.flatMap((j) => j.files))
    t.ok(stats.cuts >= 10, `the proxy cut ${stats.cuts} connections`)
    t.ok(restFaults >= 10, `Salesforce answered 503 ${restFaults} times`)
    t.ok(inboundRetries + exportRetries > 0, 'files were retried')
    t.comment(
      `${protocol}: ${elapsed} ms; ${stats.connections} connections (${stats.dataConnections} data), ` +
        `${stats.cuts} cut; ${restFaults} Salesforce 503s of ${h.sandbox.apiCallCount()} API calls; ` +
        `file retries: inbound ${inboundRetries}, exports ${exportRetries}`,
    )
  })
}

t.test('expired sessions, API limit and S3 500s', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [inboundFlow(endpoint), exportFlow(endpoint)],
    salesforce: { maxRetries: 8, timeoutMs: 60_000 },
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  const exports = await seedExports(h, 10)
  const inbound = await dropInbound(h, 40)

  h.sandbox.failEvery('rest', 4, SALESFORCE_FAULTS.invalidSession)
  h.sandbox.failEvery(['query', 'apex'], 9, SALESFORCE_FAULTS.requestLimit)
  h.sandbox.failEvery('s3', 7, { status: 500 })
  const runStart = await h.api('POST', '/v1/flows/partner-docs/runs')
  const jobIds = await submitExports(h, [...exports.keys()])
  const [run, jobs] = await Promise.all([h.waitForRun(runStart.json.runId), jobsOf(h, jobIds)])
  const injected = h.sandbox.injectedFaults()
  t.comment(
    `injected: ${JSON.stringify(injected)}; file retries: inbound ${retriesOf(run.items)}, ` +
      `exports ${retriesOf(jobs.flatMap((j) => j.files))}`,
  )
  t.ok((injected.s3 ?? 0) > 0 && (injected.query ?? 0) > 0, 'faults were injected')

  t.equal(run.state, 'succeeded', 'the inbound run completes')
  await checkInboundExactlyOnce(t, h, inbound)

  const failed = jobs.filter((j) => j.state !== 'succeeded')
  t.same(
    failed.map((j) => [j.state, j.errorCode, j.errorMessage]),
    [],
    'every export job succeeds',
  )
  const delivered = new Map(
    [...exports].filter(([id]) => jobs.some((j) => j.recordIds[0] === id && j.state === 'succeeded')),
  )
  await checkExportsExactlyOnce(t, h, delivered)
})

t.test('a transient Salesforce fault while an export job is planned', async (t) => {
  const h = await startHarness({ protocol: 'sftp', flows: (endpoint) => [exportFlow(endpoint)] })
  t.teardown(() => h.close())
  const [limited, expired] = (await seedExports(h, 2)).keys()
  // The job's first SOQL query meets the API limit (the call waits at the adapter's org-wide gate) …
  h.sandbox.failNext('query', 1, SALESFORCE_FAULTS.requestLimit)
  const [first] = await jobsOf(h, await submitExports(h, [limited as string]))
  // … or an expired session that is still refused after the one re-authentication.
  h.sandbox.failNext('query', 2, SALESFORCE_FAULTS.invalidSession)
  const [second] = await jobsOf(h, await submitExports(h, [expired as string]))
  const outcomes = [first, second].map((j) => [j.state, j.errorCode])
  t.comment(`outcomes today: ${JSON.stringify(outcomes)}`)
  t.same(
    outcomes,
    [
      ['succeeded', null],
      ['succeeded', null],
    ],
    'both are retried with the flow backoff and succeed',
  )
})

for (const protocol of ['sftp', 'ftp'] as const) {
  t.test(`${protocol}: a file bigger than a connection lives fails after exactly maxAttempts`, async (t) => {
    const remote = behindProxy(protocol)
    const h = await startHarness({
      protocol,
      remoteServer: remote.server,
      flows: (endpoint) => [
        inboundFlow(endpoint, { retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20 } }),
      ],
    })
    t.teardown(() => h.close())
    seedRecords(h.sandbox)
    const small = await dropInbound(h, 5)
    const big = content('ACME-001_big.pdf', 3 * MiB)
    await h.put('inbox/ACME-001_big.pdf', big)
    remote.proxy.setRule({ action: 'cut', afterBytes: MiB })

    const run = await h.runAndWait('partner-docs')
    t.equal(run.state, 'partially_failed')
    const bigItem = run.items.find((i) => i.name === 'ACME-001_big.pdf')
    t.match(bigItem, { state: 'failed', attempts: 3, errorCode: 'CONNECTION_LOST' })
    t.ok(
      run.items.filter((i) => i !== bigItem).every((i) => i.state === 'done'),
      'the other files are done',
    )
    t.same(
      sdriveFiles(h.sandbox)
        .map((r) => r.cg__File_Name__c)
        .sort(),
      [...small.keys()].sort(),
      'the big file is not in S-Drive, the others once each',
    )
    t.equal(wipRecords(h.sandbox).length, 0, 'its cancelled uploads left no WIP record')
    t.same(await h.list('errors'), ['ACME-001_big.pdf', 'ACME-001_big.pdf.error.json'])
    const report = JSON.parse(await h.read('errors/ACME-001_big.pdf.error.json'))
    t.match(report, { code: 'CONNECTION_LOST', attempts: 3 })
  })
}

for (const protocol of ['sftp', 'ftp'] as const) {
  t.test(`${protocol}: permanent faults fail at the first attempt with their code`, async (t) => {
    t.test('wrong password: the run fails with REMOTE_AUTH_FAILED after one connection', async (t) => {
      const remote = behindProxy(protocol)
      const h = await startHarness({
        protocol,
        remoteServer: remote.server,
        flows: (endpoint) => [
          // Generous retries: a transient classification would show as more connections.
          inboundFlow(endpoint, { retry: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 20 } }),
          exportFlow(endpoint, { retry: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 20 } }),
        ],
        endpoint: { password: 'not-the-password' },
      })
      t.teardown(() => h.close())
      seedRecords(h.sandbox)
      await dropInbound(h, 3)
      const run = await h.runAndWait('partner-docs')
      t.match(run, { state: 'failed', errorCode: 'REMOTE_AUTH_FAILED' })
      t.equal(run.items.length, 0, 'no file taken')
      t.equal(remote.proxy.stats().connections, 1, 'one login attempt, no retry')

      const [recordId] = (await seedExports(h, 1)).keys()
      const [job] = await jobsOf(h, await submitExports(h, [recordId as string]))
      t.match(job, {
        state: 'failed',
        files: [{ state: 'failed', attempts: 1, errorCode: 'REMOTE_AUTH_FAILED' }],
      })
      t.equal(remote.proxy.stats().connections, 2, 'the export tried to log in once')
      t.same(await h.list('processed'), [], 'nothing moved')
    })

    t.test('missing source directory: the run fails with REMOTE_NOT_FOUND after one listing', async (t) => {
      const remote = behindProxy(protocol)
      const h = await startHarness({
        protocol,
        remoteServer: remote.server,
        flows: (endpoint) => [
          inboundFlow(endpoint, {
            source: { endpoint, directory: '/no-such-dir', include: ['**/*.pdf'], recursive: true },
            retry: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 20 },
          }),
        ],
      })
      t.teardown(() => h.close())
      const run = await h.runAndWait('partner-docs')
      t.match(run, { state: 'failed', errorCode: 'REMOTE_NOT_FOUND' })
      t.equal(run.items.length, 0, 'no file taken')
      const stats = remote.proxy.stats()
      t.equal(stats.connections, 1, 'one connection')
      if (protocol === 'ftp') t.ok(stats.dataConnections <= 1, 'at most one listing attempt')
      t.same(await h.list('errors'), [], 'no error folder made')
    })
  })
}
