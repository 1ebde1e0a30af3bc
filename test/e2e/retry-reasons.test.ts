/**
 * POST /v1/runs/{id}/retry and the reason files in the error folder (SFTP,
 * real sockets): a retried file that fails again gets its
 * `<name>.error.json` written anew with the new reason; a retried file that
 * succeeds leaves no stale reason behind.
 */
import t from 'tap'
import { type Harness, standardFlow, startHarness } from '../support/harness.js'

t.test('a retried failure keeps a reason file beside it, with the new reason', async (t) => {
  const h: Harness = await startHarness({ protocol: 'sftp', flows: (e) => [standardFlow(e)] })
  t.teardown(() => h.close())
  await h.put('inbox/LATER-5_a.pdf', 'a')
  await h.put('inbox/SOON-6_b.pdf', 'b')

  const first = await h.runAndWait('partner-docs')
  t.equal(first.counts.failed, 2, 'neither file has a record yet')
  t.same(await h.list('errors'), [
    'LATER-5_a.pdf',
    'LATER-5_a.pdf.error.json',
    'SOON-6_b.pdf',
    'SOON-6_b.pdf.error.json',
  ])
  t.equal(JSON.parse(await h.read('errors/LATER-5_a.pdf.error.json')).code, 'NO_MATCHING_RECORD')

  // One record for b (it will succeed), two for a (it fails again, for another reason).
  h.sandbox.insert('Account', { Name: 'Soon', AccountNumber: 'SOON-6' })
  h.sandbox.insert('Account', { Name: 'Later A', AccountNumber: 'LATER-5' })
  h.sandbox.insert('Account', { Name: 'Later B', AccountNumber: 'LATER-5' })
  const res = await h.api('POST', `/v1/runs/${first.id}/retry`)
  t.equal(res.status, 202)
  t.equal(res.json.retried, 2)
  const after = await h.waitForRun(first.id)
  t.equal(after.state, 'partially_failed')
  t.same(after.items.map((i) => [i.name, i.state, i.errorCode]).sort(), [
    ['LATER-5_a.pdf', 'failed', 'AMBIGUOUS_RECORD'],
    ['SOON-6_b.pdf', 'done', null],
  ])
  t.same(
    await h.list('errors'),
    ['LATER-5_a.pdf', 'LATER-5_a.pdf.error.json'],
    'the failed file has its reason beside it; the delivered one left no stale reason',
  )
  const report = JSON.parse(await h.read('errors/LATER-5_a.pdf.error.json'))
  t.equal(report.code, 'AMBIGUOUS_RECORD', 'the reason is the new one')
  t.equal(report.runId, first.id)
  t.match(report.message, /LATER-5/)
  t.same(await h.list('processed'), ['SOON-6_b.pdf'])
})
