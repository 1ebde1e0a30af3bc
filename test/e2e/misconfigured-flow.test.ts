/**
 * A configuration typo (a named group that is no field, an unknown file
 * object) fails the flow's run at once with FLOW_MISCONFIGURED and touches no
 * file; start-up describes each object once and /readyz names the flow and
 * the key path; the other flows keep running; fixing the org clears it. A
 * configuration fault met only at lookup time (INVALID_FIELD from the query)
 * does the same instead of failing every file into the error folder.
 */
import t from 'tap'
import { sdriveFiles, seedRecords, standardFlow, startHarness } from '../support/harness.js'

const typoFlow = (endpoint: string) =>
  standardFlow(endpoint, {
    name: 'typo-docs',
    source: { endpoint, directory: '/typo', include: ['*.pdf'], recursive: false },
    match: [
      { type: 'filename', pattern: '^(?<AccountNumbr>[A-Z]+-\\d+)_', object: 'Account' },
      { type: 'recordId', object: 'Opportunity', target: { fileObject: 'cg__OppFile__c' } },
    ],
    after: { success: 'move', processedDirectory: '/typo-processed', errorDirectory: '/typo-errors' },
  })

t.test('a misconfigured flow fails its runs at once and moves no file', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [standardFlow(endpoint), typoFlow(endpoint)],
  })
  t.teardown(() => h.close())
  await h.server.bridge.flowSchemaChecked()
  t.equal(
    h.sandbox.calls.sobject,
    5,
    'start-up: one describe per object (Account, Opportunity, three file objects), not per flow or rule',
  )

  const ready = await h.api('GET', '/readyz')
  t.equal(ready.status, 200, 'the other flow keeps the service ready')
  t.same(
    ready.json.misconfiguredFlows.map((f: { flow: string }) => f.flow),
    ['typo-docs'],
    '/readyz names the misconfigured flow',
  )
  t.same(
    ready.json.misconfiguredFlows[0].problems.map(
      (p: { path: string; message: string }) => `${p.path}: ${p.message}`,
    ),
    [
      'flows[1].match[0].pattern: named group "AccountNumbr" is not a field of Account',
      'flows[1].match[1].target.fileObject: object "cg__OppFile__c" does not exist in the org (or is not visible to the user)',
    ],
    'each wrong name with its key path',
  )
  t.ok(
    h.logs.some((l) =>
      l.includes('flows[1].match[0].pattern: named group \\"AccountNumbr\\" is not a field of Account'),
    ),
    'start-up logs it',
  )

  seedRecords(h.sandbox)
  for (const name of ['ACME-001_a.pdf', 'GLOBEX-7_b.pdf', 'ACME-001_c.pdf']) await h.put(`typo/${name}`, name)
  await h.put('inbox/ACME-001_good.pdf', 'good')

  const plan = await h.api('POST', '/v1/flows/typo-docs/runs?dryRun=true')
  t.equal(plan.status, 409, 'the dry run says the flow is misconfigured')
  t.equal(plan.json.error.code, 'FLOW_MISCONFIGURED')

  const [bad, good] = await Promise.all([h.runAndWait('typo-docs'), h.runAndWait('partner-docs')])
  t.equal(bad.state, 'failed')
  t.equal(bad.errorCode, 'FLOW_MISCONFIGURED')
  t.match(
    bad.errorMessage,
    /flows\[1\]\.match\[0\]\.pattern: named group "AccountNumbr" is not a field of Account/,
  )
  t.equal(bad.items.length, 0, 'no file became an item')
  t.same(
    await h.list('typo'),
    ['ACME-001_a.pdf', 'ACME-001_c.pdf', 'GLOBEX-7_b.pdf'],
    'every file stays in the inbox',
  )
  t.same(await h.list('typo-errors'), [], 'nothing in the error folder, no .error.json')
  t.equal(good.state, 'succeeded', 'the other flow ran')
  t.equal(good.counts.done, 1)

  // Half of it is fixed in the org: the field exists now, the file object still does not.
  h.sandbox.insert('Account', { Name: 'Typo target', AccountNumbr: 'ACME-001' })
  const stillWrong = await h.runAndWait('typo-docs')
  t.equal(stillWrong.errorCode, 'FLOW_MISCONFIGURED', 'one wrong name left: still misconfigured')
  t.match(stillWrong.errorMessage, /cg__OppFile__c/)
  t.notMatch(stillWrong.errorMessage, /AccountNumbr/, 'the fixed name is no longer reported')
})

t.test('a configuration fault at lookup time fails the run, not every file', async (t) => {
  const h = await startHarness({ protocol: 'sftp', flows: (endpoint) => [standardFlow(endpoint)] })
  t.teardown(() => h.close())
  await h.server.bridge.flowSchemaChecked()
  const ids = seedRecords(h.sandbox)
  const names = ['ACME-001_a.pdf', 'ACME-001_b.pdf', 'GLOBEX-7_c.pdf']
  for (const name of names) await h.put(`inbox/${name}`, name)

  // What a field the user may not see, or one deleted after start-up, answers.
  h.sandbox.failNext('query', 1, {
    status: 400,
    errorCode: 'INVALID_FIELD',
    message: "No such column 'AccountNumber' on entity 'Account'.",
  })
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'failed')
  t.equal(run.errorCode, 'FLOW_MISCONFIGURED')
  t.match(run.errorMessage, /flows\[0\]\.match\[1\]: lookup on Account \(AccountNumber\): .*INVALID_FIELD/)
  t.ok(
    run.items.every((i) => i.state === 'skipped' && i.errorCode === 'FLOW_MISCONFIGURED'),
    'the files were let go, not failed',
  )
  t.same(await h.list('inbox'), names, 'every file stays in the inbox')
  t.same(await h.list('errors'), [], 'nothing in the error folder, no .error.json')
  const ready = await h.api('GET', '/readyz')
  t.same(
    ready.json.misconfiguredFlows.map((f: { flow: string }) => f.flow),
    ['partner-docs'],
    '/readyz shows the flow',
  )

  // Next run: the describe finds the fields, the mark clears, and the same files are taken.
  const next = await h.runAndWait('partner-docs')
  t.equal(next.state, 'succeeded')
  t.equal(next.counts.done, 3, 'the files let go are processed by the next run')
  t.same((await h.api('GET', '/readyz')).json.misconfiguredFlows, [], 'the mark is cleared')
  t.equal(
    sdriveFiles(h.sandbox).filter((f) => String(f.cg__Account__c).slice(0, 15) === ids.acme.slice(0, 15))
      .length,
    2,
  )
})
