/**
 * Fault injection end to end: the service talks to its SFTP / FTP server
 * through the TCP fault proxy (test/support/fault-proxy.ts) and to a
 * Salesforce sandbox that fails calls on purpose.
 *
 * - Every connection cut after 1 MiB and Salesforce answering 503 to every
 *   fifth REST call, 300 files in and 100 exports out: faults-cut-sftp and
 *   faults-cut-ftp.test.ts (their own files, so tap runs them in parallel).
 * - The session / API-limit variants and S3 500s: the same, smaller; a
 *   transient Salesforce fault while an export job is planned is retried
 *   with the flow's backoff, an API limit is waited out.
 * - A file larger than what a connection lives for cannot get through
 *   (reads are not resumed): it fails with CONNECTION_LOST after exactly
 *   `retry.maxAttempts` attempts, the rest of the run completes.
 * - Permanent faults (wrong password, missing directory) fail the run or
 *   the job with their code at the first attempt: one connection, no retry.
 */
import t from 'tap'
import { SALESFORCE_FAULTS } from '../../src/sandbox/salesforce/index.js'
import {
  behindProxy,
  checkExportsExactlyOnce,
  checkInboundExactlyOnce,
  content,
  dropInbound,
  exportFlow,
  inboundFlow,
  jobsOf,
  MiB,
  retriesOf,
  seedExports,
  submitExports,
} from '../support/faults.js'
import { sdriveFiles, seedRecords, startHarness, wipRecords } from '../support/harness.js'

// Many files through faults: minutes on a loaded CI machine.
t.setTimeout(10 * 60_000)

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
    // Without resume: each attempt starts from zero and meets the cut again (with resume, on by
    // default, the cuts are continued and the file arrives: test/e2e/resume-cut-*.test.ts).
    const remote = behindProxy(protocol, { resume: { enabled: false } })
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
