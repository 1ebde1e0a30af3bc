/**
 * Atomic batches end to end (SFTP, sandbox S-Drive with a corrupting S3):
 * with `batch: {atomic: true}` one corrupt file (its checksum never
 * matches, so it fails after its retries) undoes its folder: the folder's
 * other uploads are removed from S-Drive again, files not uploaded are left
 * out, and the whole folder lands in the error directory with its report,
 * while other folders of the same run go through. With `existing: version`
 * the earlier versions stay the current ones. The same drop on a flow
 * without atomic batches behaves as before: the others succeed.
 */
import t from 'tap'
import {
  type Harness,
  sdriveFiles,
  seedRecords,
  standardFlow,
  startHarness,
  wipRecords,
} from '../support/harness.js'

const acmeRule = [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }]
const retry = { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 }

function flowAt(endpoint: string, name: string, overrides: Record<string, unknown>) {
  return standardFlow(endpoint, {
    name,
    source: { endpoint, directory: `/${name}`, include: ['**/*.pdf'], recursive: true },
    match: acmeRule,
    after: { success: 'move', processedDirectory: `/${name}-done`, errorDirectory: `/${name}-errors` },
    retry,
    ...overrides,
  })
}

interface Item {
  path: string
  state: string
  errorCode: string | null
  errorMessage: string | null
  attempts: number
}

t.test('atomic batches', async (t) => {
  const h: Harness = await startHarness({
    protocol: 'sftp',
    flows: (e) => [
      flowAt(e, 'atomic', { batch: { atomic: true } }),
      flowAt(e, 'versioned', { batch: { atomic: true }, existing: 'version' }),
      flowAt(e, 'plain', {}),
      flowAt(e, 'indexed', { batch: { atomic: true }, index: { required: true } }),
      flowAt(e, 'fielded', {
        batch: { atomic: true },
        match: [
          {
            type: 'filename',
            pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_(?<lang>[a-z]{2})\\.pdf$',
            object: 'Account',
            lookup: ['AccountNumber'],
          },
        ],
        target: {
          fileObject: 'cg__AccountFile__c',
          parentField: 'cg__Account__c',
          fields: { Language__c: '{lang}' },
        },
      }),
    ],
  })
  t.teardown(() => h.close())
  const ids = seedRecords(h.sandbox)
  // The org's file object has Language__c (the sandbox learns fields from a record), and refuses xx.
  h.sandbox.insert('cg__AccountFile__c', {
    cg__File_Name__c: 'schema-seed',
    cg__Account__c: ids.globex,
    cg__WIP__c: false,
    Language__c: null,
  })
  h.sandbox.addValidationRule('cg__AccountFile__c', 'Language__c', (v) =>
    v === 'xx' ? 'Language__c: xx is no language' : null,
  )
  const named = (name: string) => sdriveFiles(h.sandbox).filter((f) => f.cg__File_Name__c === name)
  const items = async (runId: string): Promise<Item[]> => (await h.api('GET', `/v1/runs/${runId}`)).json.items
  const byName = (list: Item[]) => new Map(list.map((i) => [i.path.slice(i.path.lastIndexOf('/') + 1), i]))

  t.test("an undone folder's index and its result follow it to the error directory", async (t) => {
    for (const n of ['a', 'b']) await h.put(`indexed/fall/ACME-001_fall-${n}.pdf`, `fall ${n}`)
    await h.put('indexed/fall/index.csv', 'File\nACME-001_fall-a.pdf\nACME-001_fall-b.pdf\n')
    h.sandbox.corruptUploads(['ACME-001_fall-b.pdf'])
    t.teardown(() => h.sandbox.clearFaults())
    const run = await h.runAndWait('indexed')
    t.same([run.counts.done, run.counts.failed], [0, 2])
    t.same(await h.list('indexed/fall'), [], 'nothing is left in the source folder')
    t.same(await h.list('indexed-done'), [], 'nothing of the undone folder went to the processed folder')
    t.same(
      await h.list('indexed-errors/fall'),
      [
        ...['a', 'b'].flatMap((n) => [`ACME-001_fall-${n}.pdf`, `ACME-001_fall-${n}.pdf.error.json`]),
        `_batch-${run.id}.error.json`,
        'index.csv',
        'index.csv.result.csv',
      ].sort(),
    )
    const result = await h.read('indexed-errors/fall/index.csv.result.csv')
    t.match(result, /ACME-001_fall-a\.pdf,1,failed,BATCH_ROLLED_BACK/)
    t.match(result, /ACME-001_fall-b\.pdf,2,failed,CHECKSUM_MISMATCH/)
    const details = await h.api('GET', `/v1/runs/${run.id}`)
    t.match(details.json.batches, [
      { folder: '/indexed/fall', indexFinalPath: '/indexed-errors/fall/index.csv' },
    ])
  })

  t.test('one corrupt file undoes its folder, and only its folder', async (t) => {
    for (const n of ['a', 'b', 'c']) await h.put(`atomic/spring/ACME-001_${n}.pdf`, `spring ${n}`)
    for (const n of ['d', 'e']) await h.put(`atomic/summer/ACME-001_${n}.pdf`, `summer ${n}`)
    await h.put('atomic/autumn/ACME-001_f.pdf', 'autumn f')
    await h.put('atomic/autumn/NOPE-9_g.pdf', 'no such account')

    const plan = await h.api('POST', '/v1/flows/atomic/runs?dryRun=true')
    t.equal(plan.status, 200)
    t.same(plan.json.atomicBatches, [
      { folder: '/atomic/autumn', files: 2, failing: 1, outcome: 'abort' },
      { folder: '/atomic/spring', files: 3, failing: 0, outcome: 'upload' },
      { folder: '/atomic/summer', files: 2, failing: 0, outcome: 'upload' },
    ])

    h.sandbox.corruptUploads(['ACME-001_c.pdf'])
    t.teardown(() => h.sandbox.clearFaults())
    const run = await h.runAndWait('atomic')
    t.equal(run.state, 'partially_failed')
    t.same([run.counts.done, run.counts.failed], [2, 5], 'summer done; spring and autumn failed')

    const got = byName(await items(run.id))
    t.equal(got.get('ACME-001_c.pdf')?.errorCode, 'CHECKSUM_MISMATCH', 'the corrupt file fails on its own')
    t.equal(got.get('ACME-001_c.pdf')?.attempts, retry.maxAttempts, 'a transient fault is retried first')
    for (const n of ['a', 'b']) {
      const item = got.get(`ACME-001_${n}.pdf`)
      t.equal(item?.errorCode, 'BATCH_ROLLED_BACK', `${n}: uploaded, then removed again`)
      t.match(item?.errorMessage, /ACME-001_c\.pdf \(CHECKSUM_MISMATCH\)/, `${n}: names the file that failed`)
    }
    t.equal(got.get('NOPE-9_g.pdf')?.errorCode, 'NO_MATCHING_RECORD')
    t.equal(got.get('ACME-001_f.pdf')?.errorCode, 'BATCH_ABORTED', 'not uploaded beside a failed file')

    for (const n of ['a', 'b', 'c', 'f'])
      t.same(named(`ACME-001_${n}.pdf`), [], `${n}: no file of a failed batch is current`)
    const removed = h.sandbox
      .records('cg__AccountFile__c')
      .filter((r) => ['ACME-001_a.pdf', 'ACME-001_b.pdf'].includes(String(r.cg__File_Name__c)))
    t.equal(removed.length, 2, 'the rolled-back uploads are marked deleted (replaceMode softDelete)')
    t.ok(removed.every((r) => r.cg__Is_Deleted__c === true))
    t.equal(named('ACME-001_d.pdf').length + named('ACME-001_e.pdf').length, 2, 'summer went through')
    t.same(wipRecords(h.sandbox), [], 'no WIP record left')

    t.same(await h.list('atomic-done/summer'), ['ACME-001_d.pdf', 'ACME-001_e.pdf'])
    t.same(await h.list('atomic/spring'), [], 'nothing of spring is left in the source')
    const errors = await h.list('atomic-errors/spring')
    const reportName = `_batch-${run.id}.error.json`
    t.same(
      errors,
      [
        ...['a', 'b', 'c'].flatMap((n) => [`ACME-001_${n}.pdf`, `ACME-001_${n}.pdf.error.json`]),
        reportName,
      ].sort(),
      'the whole folder is in the error directory, each file with its reason, and one report',
    )
    const report = JSON.parse(await h.read(`atomic-errors/spring/${reportName}`))
    t.match(report, {
      flow: 'atomic',
      runId: run.id,
      folder: '/atomic/spring',
      failed: [{ file: '/atomic/spring/ACME-001_c.pdf', code: 'CHECKSUM_MISMATCH' }],
      notUploaded: [],
      rollbackFailed: [],
    })
    t.same(
      report.rolledBack.map((r: { file: string }) => r.file),
      ['/atomic/spring/ACME-001_a.pdf', '/atomic/spring/ACME-001_b.pdf'],
    )
    t.same(
      report.rolledBack.map((r: { sdriveFileId: string }) => r.sdriveFileId).sort(),
      removed.map((r) => r.Id).sort(),
      'the report names the removed S-Drive files',
    )
    const autumn = JSON.parse(await h.read(`atomic-errors/autumn/${reportName}`))
    t.match(autumn, {
      failed: [{ file: '/atomic/autumn/NOPE-9_g.pdf', code: 'NO_MATCHING_RECORD' }],
      rolledBack: [],
      notUploaded: ['/atomic/autumn/ACME-001_f.pdf'],
    })
    t.same(
      JSON.parse(await h.read('atomic-errors/spring/ACME-001_a.pdf.error.json')).code,
      'BATCH_ROLLED_BACK',
    )
  })

  t.test('existing: version: an undone batch leaves the earlier versions current', async (t) => {
    for (const n of [1, 2, 3]) await h.put(`versioned/spring/ACME-001_v${n}.pdf`, `first edition ${n}`)
    const first = await h.runAndWait('versioned')
    t.equal(first.counts.done, 3)
    const before = new Map([1, 2, 3].map((n) => [n, named(`ACME-001_v${n}.pdf`)[0]?.Id]))

    // Again, a new mtime each: v1 and v3 with new bytes, v2 the same bytes; v3 arrives corrupt.
    await h.put('versioned/spring/ACME-001_v1.pdf', 'second edition 1', { ageSeconds: 1800 })
    await h.put('versioned/spring/ACME-001_v2.pdf', 'first edition 2', { ageSeconds: 1800 })
    await h.put('versioned/spring/ACME-001_v3.pdf', 'second edition 3', { ageSeconds: 1800 })
    h.sandbox.corruptUploads(['ACME-001_v3.pdf'])
    t.teardown(() => h.sandbox.clearFaults())
    const second = await h.runAndWait('versioned')
    t.equal(second.state, 'failed')
    const got = byName(await items(second.id))
    t.same(
      ['ACME-001_v1.pdf', 'ACME-001_v2.pdf', 'ACME-001_v3.pdf'].map((n) => got.get(n)?.errorCode),
      ['BATCH_ROLLED_BACK', 'BATCH_ABORTED', 'CHECKSUM_MISMATCH'],
      'the new version removed again, the unchanged one left out, the corrupt one failed',
    )
    for (const n of [1, 2, 3]) {
      const current = named(`ACME-001_v${n}.pdf`)
      t.equal(current.length, 1, `v${n}: one file of the name left`)
      t.equal(current[0]?.Id, before.get(n), `v${n}: the earlier version`)
      t.equal(current[0]?.cg__Is_Latest_Version__c, true, `v${n}: and it is the latest again`)
      t.equal((await h.sandbox.s3Object(String(current[0]?.cg__Key__c)))?.toString(), `first edition ${n}`)
    }
    t.same(
      (await h.list('versioned-errors/spring')).filter((n) => n.endsWith('.pdf')),
      ['ACME-001_v1.pdf', 'ACME-001_v2.pdf', 'ACME-001_v3.pdf'],
    )

    // The partner sends the folder again, intact: it goes through as if the undone batch never was.
    h.sandbox.clearFaults()
    await h.put('versioned/spring/ACME-001_v1.pdf', 'second edition 1', { ageSeconds: 900 })
    await h.put('versioned/spring/ACME-001_v2.pdf', 'first edition 2', { ageSeconds: 900 })
    await h.put('versioned/spring/ACME-001_v3.pdf', 'second edition 3', { ageSeconds: 900 })
    const third = await h.runAndWait('versioned')
    t.equal(third.state, 'succeeded')
    t.same([third.counts.done, third.counts.skipped], [2, 1], 'two new versions, one unchanged')
    for (const n of [1, 3]) {
      const latest = named(`ACME-001_v${n}.pdf`).filter((f) => f.cg__Is_Latest_Version__c === true)
      t.equal(latest.length, 1, `v${n}: one latest`)
      t.equal((await h.sandbox.s3Object(String(latest[0]?.cg__Key__c)))?.toString(), `second edition ${n}`)
    }
  })

  t.test('without atomic batches a corrupt file fails alone, as before', async (t) => {
    for (const n of ['a', 'b', 'c']) await h.put(`plain/spring/ACME-001_p${n}.pdf`, `plain ${n}`)
    h.sandbox.corruptUploads(['ACME-001_pc.pdf'])
    t.teardown(() => h.sandbox.clearFaults())
    const run = await h.runAndWait('plain')
    t.equal(run.state, 'partially_failed')
    t.same([run.counts.done, run.counts.failed], [2, 1])
    t.equal(byName(await items(run.id)).get('ACME-001_pc.pdf')?.errorCode, 'CHECKSUM_MISMATCH')
    t.equal(named('ACME-001_pa.pdf').length + named('ACME-001_pb.pdf').length, 2, 'the others are in S-Drive')
    t.same(await h.list('plain-done/spring'), ['ACME-001_pa.pdf', 'ACME-001_pb.pdf'])
    t.same(await h.list('plain-errors/spring'), ['ACME-001_pc.pdf', 'ACME-001_pc.pdf.error.json'])
    const plan = await h.api('POST', '/v1/flows/plain/runs?dryRun=true')
    t.equal(plan.json.atomicBatches, undefined, 'the dry run of a flow without atomic batches has none')
  })

  t.test('a file whose fields are refused undoes its batch, its own upload too', async (t) => {
    for (const lang of ['de', 'en', 'xx']) await h.put(`fielded/spring/ACME-001_${lang}.pdf`, `sheet ${lang}`)
    const run = await h.runAndWait('fielded')
    t.equal(run.state, 'failed')
    const got = byName(await items(run.id))
    t.equal(got.get('ACME-001_xx.pdf')?.errorCode, 'FIELDS_REFUSED')
    t.match(got.get('ACME-001_xx.pdf')?.errorMessage, /removed from S-Drive again/)
    t.equal(got.get('ACME-001_de.pdf')?.errorCode, 'BATCH_ROLLED_BACK')
    t.equal(got.get('ACME-001_en.pdf')?.errorCode, 'BATCH_ROLLED_BACK')
    for (const lang of ['de', 'en', 'xx']) t.same(named(`ACME-001_${lang}.pdf`), [], `${lang}: not current`)
    const errors = await h.list('fielded-errors/spring')
    t.equal(errors.filter((n) => n.endsWith('.pdf')).length, 3, 'the whole folder is in the error directory')
    const report = JSON.parse(await h.read(`fielded-errors/spring/_batch-${run.id}.error.json`))
    t.match(report.failed, [{ file: '/fielded/spring/ACME-001_xx.pdf', code: 'FIELDS_REFUSED' }])
    t.equal(report.rolledBack.length, 3, 'all three uploads were removed again, the refused one too')
  })
})
