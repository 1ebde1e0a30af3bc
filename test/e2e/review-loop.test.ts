/**
 * The review loop end to end over SFTP and FTP: a file comes in, is rejected
 * through the API, lands in the partner's drop zone with its two notes, the
 * corrected file comes back (by correlation id in the name, then by the
 * original name) and becomes the new version on the same record; the chain
 * is visible through the API and the record's review fields follow it.
 */
import t from 'tap'
import { type Harness, type Protocol, sdriveFiles, startHarness } from '../support/harness.js'

const reviewFlow = (endpoint: string, name: string, extra: Record<string, unknown> = {}) => ({
  name,
  kind: 'inbound',
  source: { endpoint, directory: `/${name}/inbox`, include: ['*.png', '*.pdf'] },
  readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 60 },
  match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
  target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c', description: 'From {flow}' },
  existing: 'skip',
  after: { success: 'move', processedDirectory: `/${name}/processed`, errorDirectory: `/${name}/errors` },
  retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
  review: {
    dropZone: { directory: `/${name}/rejected/{record.id}` },
    onRejected: { Review_Status__c: 'Rejected', Review_Reason__c: '{reasonCode}: {reason}' },
    onResubmitted: { Review_Status__c: 'Resubmitted', Review_Reason__c: 'answer to {correlationId}' },
    ...((extra.review as object) ?? {}),
  },
  ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'review')),
})

for (const protocol of ['sftp', 'ftp'] as Protocol[]) {
  t.test(`review loop over ${protocol}`, async (t) => {
    const h: Harness = await startHarness({
      protocol,
      flows: (e) => [
        // Inbound versions and the review loop's resubmission versions side by side (issue 14).
        reviewFlow(e, 'artwork', { existing: 'version' }),
        reviewFlow(e, 'drawings', { review: { resubmission: 'replace' } }),
        {
          ...reviewFlow(e, 'plain'),
          review: undefined,
        },
      ],
    })
    t.teardown(() => h.close())
    const acme = h.sandbox.insert('Account', {
      Name: 'Acme',
      AccountNumber: 'ACME-001',
      Review_Status__c: 'New',
      Review_Reason__c: null,
    })
    const acmeFiles = (name: string) =>
      sdriveFiles(h.sandbox).filter(
        (f) => f.cg__File_Name__c === name && String(f.cg__Account__c).slice(0, 15) === acme.slice(0, 15),
      )
    const account = () => h.sandbox.records('Account').find((r) => r.Id === acme) as Record<string, unknown>
    const content = async (file: Record<string, unknown> | undefined) =>
      (await h.sandbox.s3Object(String(file?.cg__Key__c)))?.toString()
    const reject = (flow: string, body: Record<string, unknown>) =>
      h.api('POST', `/v1/flows/${flow}/rejections`, { body })
    const settled = (correlationId: string) => h.server.bridge.reviews.settled(correlationId)

    await h.put('artwork/inbox/ACME-001_logo.png', 'logo v1')
    t.equal((await h.runAndWait('artwork')).counts.done, 1, 'the original arrives')
    const original = acmeFiles('ACME-001_logo.png')[0]
    t.ok(original, 'the original is in S-Drive')

    let correlationId = ''
    t.test('reject: the drop zone holds the file and both notes; review fields set', async (t) => {
      const res = await reject('artwork', {
        fileId: original?.Id,
        reasonCode: 'LOW_RESOLUTION',
        reason: 'The logo must be at least 300 dpi.',
        notify: { contact: 'art-team' },
      })
      t.equal(res.status, 202)
      correlationId = res.json.correlationId
      t.match(correlationId, /^rv-[0-9a-z]{10}$/)
      t.match(res.json, { state: 'rejecting', fileId: original?.Id, originalName: 'ACME-001_logo.png' })
      t.equal(res.json.returnedName, `ACME-001_logo__${correlationId}.png`)
      await settled(correlationId)

      const view = await h.api('GET', `/v1/flows/artwork/rejections/${correlationId}`)
      t.equal(view.status, 200)
      t.equal(view.json.state, 'rejected')
      const dir = `artwork/rejected/${acme}`
      t.equal(view.json.returnedPath, `/${dir}/ACME-001_logo__${correlationId}.png`)
      t.same(await h.list(dir), [
        `ACME-001_logo__${correlationId}.png`,
        `ACME-001_logo__${correlationId}.png.rejected.json`,
        `ACME-001_logo__${correlationId}.png.rejected.txt`,
      ])
      t.equal(await h.read(`${dir}/ACME-001_logo__${correlationId}.png`), 'logo v1', 'the file itself, whole')
      const note = await h.read(`${dir}/ACME-001_logo__${correlationId}.png.rejected.txt`)
      t.match(note, /The logo must be at least 300 dpi\./)
      t.match(note, new RegExp(correlationId))
      const machine = JSON.parse(await h.read(`${dir}/ACME-001_logo__${correlationId}.png.rejected.json`))
      t.match(machine, {
        correlationId,
        reasonCode: 'LOW_RESOLUTION',
        reason: 'The logo must be at least 300 dpi.',
        originalName: 'ACME-001_logo.png',
        recordId: acme,
        fileId: original?.Id,
        size: 7,
      })
      t.match(machine.time, /^\d{4}-\d\d-\d\dT/)
      t.equal(account().Review_Status__c, 'Rejected')
      t.equal(account().Review_Reason__c, 'LOW_RESOLUTION: The logo must be at least 300 dpi.')

      const again = await reject('artwork', { fileId: original?.Id, reasonCode: 'OTHER', reason: 'again' })
      t.equal(again.status, 200, 'rejecting the same file again answers with the first rejection')
      t.equal(again.json.correlationId, correlationId)
    })

    t.test('the corrected file, named with the correlation id, becomes the new version', async (t) => {
      await h.put(`artwork/inbox/ACME-001_logo__${correlationId}.png`, 'logo v2 (300 dpi)')
      const plan = await h.api('POST', '/v1/flows/artwork/runs?dryRun=true')
      t.match(plan.json.files, [{ action: 'resubmission', targetRecordId: acme }], 'the dry run says so')
      const run = await h.runAndWait('artwork')
      t.equal(run.counts.done, 1)
      const versions = acmeFiles('ACME-001_logo.png')
      t.equal(versions.length, 2, 'both versions on the same record, under the original name')
      const latest = versions.filter((f) => f.cg__Is_Latest_Version__c === true)
      t.equal(latest.length, 1, 'exactly one latest')
      t.not(latest[0]?.Id, original?.Id)
      t.equal(await content(latest[0]), 'logo v2 (300 dpi)')
      t.equal(
        versions.find((f) => f.Id === original?.Id)?.cg__Is_Latest_Version__c,
        false,
        'the original is superseded',
      )
      t.equal(account().Review_Status__c, 'Resubmitted')
      t.equal(account().Review_Reason__c, `answer to ${correlationId}`)

      const view = (await h.api('GET', `/v1/flows/artwork/rejections/${correlationId}`)).json
      t.equal(view.state, 'resubmitted')
      t.match(view.resubmissions, [
        { runId: run.id, fileName: `ACME-001_logo__${correlationId}.png`, fileId: latest[0]?.Id },
      ])
      t.same(await h.list('artwork/inbox'), [], 'the corrected file left the drop')
    })

    t.test('the chain continues: reject the new version, resubmit under the original name', async (t) => {
      const v2 = acmeFiles('ACME-001_logo.png').find((f) => f.cg__Is_Latest_Version__c === true)
      const res = await reject('artwork', {
        fileId: v2?.Id,
        reasonCode: 'WRONG_COLOUR',
        reason: 'Use Pantone 286.',
      })
      t.equal(res.status, 202)
      t.equal(res.json.previousCorrelationId, correlationId, 'linked to the rejection it answered')
      await settled(res.json.correlationId)
      await h.put('artwork/inbox/ACME-001_logo.png', 'logo v3 (Pantone 286)')
      t.equal((await h.runAndWait('artwork')).counts.done, 1)
      const versions = acmeFiles('ACME-001_logo.png')
      t.equal(versions.length, 3)
      const latest = versions.filter((f) => f.cg__Is_Latest_Version__c === true)
      t.equal(latest.length, 1)
      t.equal(await content(latest[0]), 'logo v3 (Pantone 286)')
      const list = (await h.api('GET', '/v1/flows/artwork/rejections')).json.rejections
      t.same(
        list.map((r: any) => [r.correlationId, r.state, r.previousCorrelationId]),
        [
          [correlationId, 'resubmitted', null],
          [res.json.correlationId, 'resubmitted', correlationId],
        ],
        'original → rejected → resubmitted → rejected → resubmitted',
      )
    })

    t.test(
      'resubmission policy "replace": the rejected file is removed once the new one is in',
      async (t) => {
        await h.put('drawings/inbox/ACME-001_plan.pdf', 'plan rev A')
        await h.runAndWait('drawings')
        const revA = acmeFiles('ACME-001_plan.pdf')[0]
        const res = await reject('drawings', {
          fileId: revA?.Id,
          reasonCode: 'MISSING_SCALE',
          reason: 'Add a scale bar.',
        })
        await settled(res.json.correlationId)
        t.equal((await h.api('GET', res.json.statusUrl)).json.state, 'rejected')
        await h.put(`drawings/inbox/${res.json.returnedName}`, 'plan rev B')
        t.equal((await h.runAndWait('drawings')).counts.done, 1)
        const visible = acmeFiles('ACME-001_plan.pdf')
        t.equal(visible.length, 1, 'one visible file')
        t.not(visible[0]?.Id, revA?.Id)
        t.equal(await content(visible[0]), 'plan rev B')
      },
    )

    t.test('bad rejection requests: a clear 4xx naming the field, nothing written', async (t) => {
      const missing = await reject('artwork', { fileId: 'a0B000000000999AAA', reasonCode: 'X', reason: 'y' })
      t.equal(missing.status, 404)
      t.match(missing.json.error, { code: 'NOT_FOUND', message: /body\.fileId/ })
      const noReason = await reject('artwork', { fileId: original?.Id, reasonCode: 'X' })
      t.equal(noReason.status, 400)
      t.match(noReason.json.error, { code: 'VALIDATION_FAILED', message: /reason/ })
      const badId = await reject('artwork', { fileId: 'not-an-id', reasonCode: 'X', reason: 'y' })
      t.equal(badId.status, 400)
      t.match(badId.json.error.message, /fileId/)
      const noReview = await reject('plain', { fileId: original?.Id, reasonCode: 'X', reason: 'y' })
      t.equal(noReview.status, 400)
      t.match(noReview.json.error.message, /no review configuration/)
      t.equal((await reject('nope', { fileId: original?.Id, reasonCode: 'X', reason: 'y' })).status, 404)
      t.equal((await h.api('GET', '/v1/flows/artwork/rejections/rv-0000000000')).status, 404)
    })

    t.test('metrics count the review steps', async (t) => {
      const metrics = String((await h.api('GET', '/metrics')).json)
      t.match(metrics, /bridge_review_events_total\{flow="artwork",event="rejected"\} 2/)
      t.match(metrics, /bridge_review_events_total\{flow="artwork",event="resubmitted"\} 2/)
    })
  })
}
