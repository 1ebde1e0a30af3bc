/**
 * Faults mid-run: an expired Salesforce session, an S3 500 and a dropped
 * SFTP connection in the same run; the run still completes and leaves no
 * WIP record behind.
 */
import t from 'tap'
import { sdriveFiles, seedRecords, standardFlow, startHarness, wipRecords } from '../support/harness.js'

t.test('session expiry, S3 500 and a dropped SFTP connection in one run', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [standardFlow(endpoint)],
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)

  await h.put('inbox/ACME-001_warmup.pdf', 'warm up: obtains a session')
  t.equal((await h.runAndWait('partner-docs')).state, 'succeeded')

  const payload = (i: number) => `${String(i).repeat(200_000)}`
  for (let i = 1; i <= 6; i++) await h.put(`inbox/ACME-001_doc${i}.pdf`, payload(i))
  h.sandbox.expireSessions()
  h.sandbox.failNext('s3', 1, { status: 500 })
  const sftp = h.remote as unknown as { faults: { dropAfterBytes(n: number): void } }
  sftp.faults.dropAfterBytes(100_000)

  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'succeeded', 'the run completes')
  t.equal(run.counts.done, 6)
  t.ok(
    run.items.some((i) => i.attempts > 1),
    'some files needed another attempt',
  )
  const names = sdriveFiles(h.sandbox)
    .map((f) => f.cg__File_Name__c)
    .sort()
  t.same(
    names,
    ['ACME-001_warmup.pdf', ...[1, 2, 3, 4, 5, 6].map((i) => `ACME-001_doc${i}.pdf`)].sort(),
    'one file each',
  )
  t.equal(wipRecords(h.sandbox).length, 0, 'no WIP record left behind')
  for (let i = 1; i <= 6; i++) {
    const rec = sdriveFiles(h.sandbox).find((f) => f.cg__File_Name__c === `ACME-001_doc${i}.pdf`)
    const bytes = await h.sandbox.s3Object(String(rec?.cg__Key__c))
    t.equal(bytes?.length, 200_000, `doc${i} arrived whole`)
  }
  t.same(await h.list('inbox'), [], 'every source file moved')
})

t.test('an org at its API limit pauses matching instead of burning attempts', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [
      standardFlow(endpoint, { retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 200 } }),
    ],
    salesforce: { apiLimitProbeIntervalMs: 200 },
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  await h.put('inbox/ACME-001_limit.pdf', 'waits for the quota')
  // More refusals than the flow has attempts: only a pause, not a retry count, gets through them.
  h.sandbox.failNext('query', 3, {
    status: 403,
    errorCode: 'REQUEST_LIMIT_EXCEEDED',
    message: 'TotalRequests Limit exceeded.',
  })
  const started = Date.now()
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'succeeded', 'the file went through once the limit lifted')
  t.match(run.items, [{ state: 'done', attempts: 1 }], 'the refusals used none of its attempts')
  // Each refusal closes the org-wide gate until a probe (one per apiLimitProbeIntervalMs) succeeds.
  t.ok(Date.now() - started >= 3 * 200, 'each refusal paused the calls for one probe interval')
  const metrics = String((await h.api('GET', '/metrics')).json)
  t.notMatch(metrics, /code="API_LIMIT_EXCEEDED"/, 'the pause is no failure of the file')
  t.match(metrics, /bridge_salesforce_api_limit_paused 0/, 'and it is over')
})

t.test('an org at its API limit during uploads pauses the files instead of failing them', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [
      standardFlow(endpoint, { retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 100 } }),
    ],
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  await h.put('inbox/ACME-001_upload-limit.pdf', 'uploads wait for the quota')
  // S-Drive's REST calls (Apex) refused three times: more than the flow's 2 attempts.
  h.sandbox.failNext('apex', 3, {
    status: 403,
    errorCode: 'REQUEST_LIMIT_EXCEEDED',
    message: 'TotalRequests Limit exceeded.',
  })
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'succeeded')
  t.match(run.items, [{ state: 'done', attempts: 1 }], 'the refusals used none of its attempts')
  t.equal(sdriveFiles(h.sandbox).filter((f) => f.cg__File_Name__c === 'ACME-001_upload-limit.pdf').length, 1)
  t.same(wipRecords(h.sandbox), [])
})
