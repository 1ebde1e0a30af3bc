/**
 * `existing: version` end to end (SFTP, sandbox S-Drive): a file dropped
 * again with new bytes becomes a new version of the one on the record (the
 * earlier stays, marked not latest); dropped again with the bytes of the
 * current version it makes no version and is skipped as UNCHANGED; the dry
 * run says which. The chain is visible on the run items (`versionOf`).
 */
import t from 'tap'
import { type Harness, sdriveFiles, seedRecords, standardFlow, startHarness } from '../support/harness.js'

const SPEC = 'ACME-001_spec-sheet.pdf'

t.test('existing: version', async (t) => {
  const h: Harness = await startHarness({
    protocol: 'sftp',
    flows: (e) => [
      standardFlow(e, {
        name: 'catalogue',
        source: { endpoint: e, directory: '/catalogue', include: ['**/*.pdf'], recursive: false },
        readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 60 },
        existing: 'version',
        after: {
          success: 'move',
          processedDirectory: '/catalogue-done',
          errorDirectory: '/catalogue-errors',
        },
      }),
    ],
  })
  t.teardown(() => h.close())
  const ids = seedRecords(h.sandbox)
  const specs = () =>
    sdriveFiles(h.sandbox).filter(
      (f) => f.cg__File_Name__c === SPEC && String(f.cg__Account__c).slice(0, 15) === ids.acme.slice(0, 15),
    )
  const latest = () => specs().filter((f) => f.cg__Is_Latest_Version__c === true)
  // Each drop is a new file on the server (its own mtime), as a partner's re-upload is.
  let age = 3600
  const drop = async (content: string) => {
    age -= 100
    await h.put(`catalogue/${SPEC}`, content, { ageSeconds: age })
  }
  const runItems = async (runId: string) => (await h.api('GET', `/v1/runs/${runId}`)).json.items

  await drop('spec sheet, first edition')
  const first = await h.runAndWait('catalogue')
  t.equal(first.counts.done, 1, 'the first drop is uploaded')
  t.same((await runItems(first.id))[0].versionOf, [], 'a first upload is no version of anything')
  const v1 = latest()[0]?.Id as string

  await drop('spec sheet, second edition')
  const second = await h.runAndWait('catalogue')
  t.equal(second.counts.done, 1, 'new bytes: a new version')
  t.same((await runItems(second.id))[0].versionOf, [v1], 'the item names the version it superseded')
  const v2 = latest()[0]?.Id as string
  t.not(v2, v1)

  await drop('spec sheet, third edition, longer')
  t.equal((await h.runAndWait('catalogue')).counts.done, 1)
  t.equal(specs().length, 3, 'three files of the name on the record')
  t.equal(latest().length, 1, 'exactly one is the latest')
  t.equal(
    (await h.sandbox.s3Object(String(latest()[0]?.cg__Key__c)))?.toString(),
    'spec sheet, third edition, longer',
    'the latest holds the newest bytes',
  )
  t.equal(specs().filter((f) => f.cg__Is_Latest_Version__c === false).length, 2, 'two earlier versions')
  const v3 = latest()[0]?.Id as string

  await drop('spec sheet, third edition, longer')
  const plan = await h.api('POST', '/v1/flows/catalogue/runs?dryRun=true')
  t.equal(plan.status, 200)
  t.match(plan.json.files, [{ path: `/catalogue/${SPEC}`, action: 'unchanged', code: 'UNCHANGED' }])
  const same = await h.runAndWait('catalogue')
  t.equal(same.counts.skipped, 1, 'the same bytes again: skipped')
  t.equal(same.counts.done, 0)
  const [item] = await runItems(same.id)
  t.equal(item.errorCode, 'UNCHANGED')
  t.equal(item.sdriveFileId, v3, 'the item points at the current version')
  t.same(item.versionOf, [], 'no version was made')
  t.equal(specs().length, 3, 'still three: no version for unchanged bytes')
  t.equal(latest()[0]?.Id, v3, 'the current version stays the latest')
  t.equal(
    h.sandbox.records('cg__AccountFile__c').filter((r) => r.cg__WIP__c === true).length,
    0,
    'no WIP record left behind',
  )
  t.same(await h.list('catalogue'), [], 'the source is tidied like a success')

  await drop('spec sheet, fourth edition')
  const planned = await h.api('POST', '/v1/flows/catalogue/runs?dryRun=true')
  t.match(planned.json.files, [{ action: 'version' }], 'new bytes plan a version')
  t.equal((await h.runAndWait('catalogue')).counts.done, 1)
  t.equal(specs().length, 4)
  t.equal(latest().length, 1)
})
