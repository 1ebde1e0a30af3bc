/**
 * Outbound exports end to end over real sockets: S-Drive (sandbox) → the
 * service → a recipient's SFTP/FTP server, with templated names, manifest
 * and done-marker, Outbound Messages, delivery windows, archive mode and
 * write-back to Salesforce.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { Clock } from '../../src/ports/clock.js'
import { type Harness, type Protocol, startHarness } from '../support/harness.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

const ORG = '00D000000000001AAA'
const OM_SECRET = 'om-secret-0123456789abcdef'
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex')

function outboundFlow(endpoint: string, name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    kind: 'outbound',
    source: {
      object: 'Opportunity',
      fileObject: 'cg__OpportunityFile__c',
      parentField: 'cg__Opportunity__c',
    },
    destination: {
      endpoint,
      directory: `/outbox/${name}/{Account.AccountNumber}`,
      fileName: '{Name}_{file.name}',
    },
    manifest: { format: 'csv', recordFields: ['Name', 'Account.AccountNumber'] },
    doneMarker: { fileName: '_DONE' },
    outboundMessages: { organizationIds: [ORG], secret: OM_SECRET },
    writeBack: {
      onSuccess: { Export_Status__c: 'Delivered {file.count}', Export_Error__c: '' },
      onFailure: { Export_Status__c: 'Failed', Export_Error__c: '{error}' },
    },
    retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
    ...extra,
  }
}

function envelope(org: string, notifications: { id: string; recordId: string }[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${org}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/63.0/${org}</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/63.0/${org}</PartnerUrl>
   ${notifications
     .map(
       (n) =>
         `<Notification><Id>${n.id}</Id><sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>${n.recordId}</sf:Id></sObject></Notification>`,
     )
     .join('\n   ')}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`
}

const ACK =
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>'

async function seed(h: Harness, account: string, name: string, files: string[]) {
  const accountId = h.sandbox.insert('Account', { Name: account, AccountNumber: account.toUpperCase() })
  const opp = h.sandbox.insert('Opportunity', {
    Name: name,
    StageName: 'Closed Won',
    AccountId: accountId,
    Export_Status__c: 'New',
    Export_Error__c: null,
  })
  const ids = files.length
    ? await seedSDriveFiles(
        h.server.bridge.sdrive,
        { parentId: opp, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
        files.map((f) => ({ name: f, content: `content of ${f} for ${name}` })),
      )
    : []
  return { accountId, opp, fileIds: ids }
}

async function soap(h: Harness, flow: string, body: string, secret = OM_SECRET) {
  const res = await fetch(`${h.url}/v1/outbound-messages/${flow}?secret=${encodeURIComponent(secret)}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', SOAPAction: '""' },
    body,
  })
  return { status: res.status, text: await res.text() }
}

for (const protocol of ['sftp', 'ftp'] as Protocol[]) {
  t.test(`export over ${protocol}`, async (t) => {
    const h = await startHarness({ protocol, flows: (e) => [outboundFlow(e, 'contracts')] })
    t.teardown(() => h.close())
    const { opp, fileIds } = await seed(h, 'acme', 'Big Deal', [
      'contract.pdf',
      'annex A.pdf',
      "O'Brien note.pdf",
    ])

    const res = await h.api('POST', '/v1/exports', { body: { flow: 'contracts', recordIds: [opp] } })
    t.equal(res.status, 202)
    t.match(res.json, { state: 'queued', created: true, statusUrl: `/v1/jobs/${res.json.jobId}` })
    await h.server.bridge.exports.settled(res.json.jobId)
    const job = (await h.api('GET', `/v1/jobs/${res.json.jobId}`)).json
    t.equal(job.state, 'succeeded')
    t.equal(job.files.length, 3)
    t.same(job.recordIds, [opp])

    const dir = 'outbox/contracts/ACME'
    t.same(
      await h.list(dir),
      [
        "Big Deal_O'Brien note.pdf",
        '_DONE',
        'Big Deal_annex A.pdf',
        'Big Deal_contract.pdf',
        `manifest-${job.id}.csv`,
      ].sort(),
    )
    for (const f of job.files) {
      const bytes = await readFile(join(h.remoteRoot, dir, f.name))
      t.equal(f.state, 'done')
      t.equal(f.sha256, sha256(bytes), `${f.name}: SHA-256 recorded and verified`)
      t.equal(bytes.length, f.size)
      t.ok(fileIds.includes(f.fileId))
    }
    const manifest = await h.read(`${dir}/manifest-${job.id}.csv`)
    const lines = manifest.trim().split(/\r?\n/)
    t.equal(
      lines[0],
      'recordId,fileId,fileName,remotePath,size,sha256,deliveredAt,correlationId,Name,Account.AccountNumber',
    )
    t.equal(lines.length, 4, 'one row per file')
    t.match(manifest, /Big Deal_contract\.pdf/)
    const record = h.sandbox.records('Opportunity').find((r) => r.Id === opp)
    t.equal(record?.Export_Status__c, 'Delivered 3', 'write-back on success')

    // A connection dropped mid-upload: the write continues where the server's copy ends (resumable
    // transfers, on by default) and the file arrives whole, never half under its name.
    const big = Buffer.alloc(3 * 1024 * 1024, 7)
    const bigOpp = h.sandbox.insert('Opportunity', {
      Name: 'Big File',
      StageName: 'Closed Won',
      AccountId: h.sandbox.records('Account')[0]?.Id,
    })
    await seedSDriveFiles(
      h.server.bridge.sdrive,
      { parentId: bigOpp, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
      [{ name: 'drawing.pdf', content: big }],
    )
    ;(h.remote as unknown as { faults: { dropAfterBytes(n: number): void } }).faults.dropAfterBytes(
      1024 * 1024,
    )
    const dropped = await h.api('POST', '/v1/exports', { body: { flow: 'contracts', recordIds: [bigOpp] } })
    await h.server.bridge.exports.settled(dropped.json.jobId)
    const after = (await h.api('GET', `/v1/jobs/${dropped.json.jobId}`)).json
    t.equal(after.state, 'succeeded')
    t.equal(after.files[0].attempts, 1, 'the dropped upload was continued within its attempt')
    t.ok(after.files[0].resumes >= 1, `resumed ${after.files[0].resumes} time(s)`)
    const arrived = await readFile(join(h.remoteRoot, dir, 'Big File_drawing.pdf'))
    t.equal(sha256(arrived), sha256(big), 'and arrived whole')
    t.notOk(
      (await h.list(dir)).some((n) => n.endsWith('.part')),
      'no temporary file left',
    )
  })
}

t.test(
  'exports: idempotency, outbound messages, bad input, archive, write-back on failure, windows',
  async (t) => {
    let now = Date.parse('2026-11-25T10:00:00Z')
    const clock: Clock = {
      now: () => now,
      // Virtual time: a wait moves the clock instead of passing real time.
      sleep: (ms, signal) => {
        signal?.throwIfAborted()
        now += ms
        return new Promise((resolve) => setImmediate(resolve))
      },
    }
    const h = await startHarness({
      protocol: 'sftp',
      bridge: { clock },
      flows: (e) => [
        outboundFlow(e, 'contracts'),
        outboundFlow(e, 'archive', { archive: { removeFromSDrive: true } }),
        outboundFlow(e, 'nightly', {
          window: { cron: '0 18 * * *', timezone: 'UTC', batchFolder: 'batch-{window}' },
          destination: { endpoint: e, directory: '/nightly', fileName: '{Name}_{file.name}' },
        }),
      ],
    })
    t.teardown(() => h.close())

    t.test('Idempotency-Key: same body → same job; another body → 409', async (t) => {
      const { opp } = await seed(h, 'idem', 'Idem Deal', ['a.pdf'])
      const headers = { 'idempotency-key': 'approval-7' }
      const a = await h.api('POST', '/v1/exports', { body: { flow: 'contracts', recordIds: [opp] }, headers })
      const b = await h.api('POST', '/v1/exports', { body: { flow: 'contracts', recordIds: [opp] }, headers })
      t.equal(b.status, 202)
      t.equal(b.json.jobId, a.json.jobId)
      t.equal(b.json.created, false)
      const c = await h.api('POST', '/v1/exports', {
        body: { flow: 'contracts', recordIds: [opp], metadata: { x: 'y' } },
        headers,
      })
      t.equal(c.status, 409)
      await h.server.bridge.exports.settled(a.json.jobId)
    })

    t.test('outbound message: exact Ack, duplicates ignored, 100 notifications', async (t) => {
      const { opp } = await seed(h, 'om', 'OM Deal', ['om.pdf'])
      const message = envelope(ORG, [{ id: '04l000000000001AAA', recordId: opp }])
      const first = await soap(h, 'contracts', message)
      t.equal(first.status, 200)
      t.equal(first.text, ACK, 'byte-for-byte the documented Ack')
      const again = await soap(h, 'contracts', message)
      t.equal(again.text, ACK, 'a duplicate is acknowledged')
      const jobs = (await h.api('GET', '/v1/jobs?flow=contracts&limit=200')).json.jobs.filter(
        (j: { trigger: string }) => j.trigger === 'outbound-message',
      )
      t.equal(jobs.length, 1, 'and recorded once')
      await h.server.bridge.exports.settled(jobs[0].id)
      t.same(
        await h.list('outbox/contracts/OM'),
        ['OM Deal_om.pdf', '_DONE', `manifest-${jobs[0].id}.csv`].sort(),
      )

      const many = []
      for (let i = 0; i < 100; i++) {
        const opp100 = h.sandbox.insert('Opportunity', { Name: `Bulk ${i}`, StageName: 'Closed Won' })
        many.push({ id: `04l${String(i + 100).padStart(15, '0')}`, recordId: opp100 })
      }
      const bulk = await soap(h, 'contracts', envelope(ORG, many))
      t.equal(bulk.status, 200)
      const bulkJobs = (await h.api('GET', '/v1/jobs?flow=contracts&limit=200')).json.jobs.filter(
        (j: { trigger: string }) => j.trigger === 'outbound-message',
      )
      t.equal(bulkJobs.length, 101, 'every notification recorded')
      for (const j of bulkJobs) await h.server.bridge.exports.settled(j.id)
      const done = await Promise.all(
        bulkJobs.map(async (j: { id: string }) => (await h.api('GET', `/v1/jobs/${j.id}`)).json),
      )
      t.ok(
        done.every((j) => (j.files.length === 0 ? j.state === 'nothing_to_export' : j.state === 'succeeded')),
        'all completed: the 100 records without files as nothing_to_export',
      )
      const empty = done.find((j) => j.files.length === 0)
      t.match(
        empty?.notes[0]?.message,
        /no S-Drive files/,
        'a record with no files completes with a clear note',
      )
    })

    t.test('bad input', async (t) => {
      t.equal(
        (await h.api('POST', '/v1/exports', { body: { flow: 'nope', recordIds: ['006000000000001AAA'] } }))
          .status,
        404,
      )
      const bad = await h.api('POST', '/v1/exports', {
        body: { flow: 'contracts', recordIds: ['not-an-id'] },
      })
      t.equal(bad.status, 400)
      t.match(bad.json.error.message, /recordIds/)
      const none = await h.api('POST', '/v1/exports', { body: { flow: 'contracts' } })
      t.equal(none.status, 400)
      const big = await h.api('POST', '/v1/exports', {
        body: {
          flow: 'contracts',
          recordIds: ['006000000000001AAA'],
          metadata: { pad: 'x'.repeat(1_100_000) },
        },
      })
      t.equal(big.status, 413)
      const noKey = await fetch(`${h.url}/v1/exports`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      })
      t.equal(noKey.status, 401)
      const malformed = await soap(h, 'contracts', '<soapenv:Envelope><oops')
      t.equal(malformed.status, 400)
      t.match(malformed.text, /Fault/)
      const wrongOrg = await soap(
        h,
        'contracts',
        envelope('00D000000000009AAA', [{ id: '04l000000000999AAA', recordId: '006000000000001AAA' }]),
      )
      t.equal(wrongOrg.status, 403)
      const wrongSecret = await soap(
        h,
        'contracts',
        envelope(ORG, [{ id: '04l000000000998AAA', recordId: '006000000000001AAA' }]),
        'nope',
      )
      t.equal(wrongSecret.status, 401)
      t.equal((await h.api('GET', '/v1/jobs/run_nope')).status, 404)
    })

    t.test('archive: removed from S-Drive only after a verified delivery', async (t) => {
      const { opp, fileIds } = await seed(h, 'arch', 'Archive Deal', ['keep-me.pdf', 'gone.pdf'])
      // maxAttempts is 2: both download attempts of the first job fail.
      h.sandbox.failNext('s3', 2, { status: 500, method: 'GET' })
      const first = await h.api('POST', '/v1/exports', { body: { flow: 'archive', fileIds: [fileIds[0]] } })
      await h.server.bridge.exports.settled(first.json.jobId)
      const failed = (await h.api('GET', `/v1/jobs/${first.json.jobId}`)).json
      t.equal(failed.state, 'failed', 'delivery failed')
      const kept = h.sandbox.records('cg__OpportunityFile__c').find((r) => r.Id === fileIds[0])
      t.not(kept?.cg__Is_Deleted__c, true, 'so the file stays in S-Drive')
      const rec = h.sandbox.records('Opportunity').find((r) => r.Id === opp)
      t.equal(rec?.Export_Status__c, 'Failed', 'write-back on failure')
      t.match(String(rec?.Export_Error__c), /S3/)

      const second = await h.api('POST', '/v1/exports', { body: { flow: 'archive', fileIds: [fileIds[1]] } })
      await h.server.bridge.exports.settled(second.json.jobId)
      t.equal((await h.api('GET', `/v1/jobs/${second.json.jobId}`)).json.state, 'succeeded')
      const gone = h.sandbox.records('cg__OpportunityFile__c').find((r) => r.Id === fileIds[1])
      t.equal(gone?.cg__Is_Deleted__c, true, 'removed after delivery')
    })

    t.test('delivery window: jobs wait, then go out together in one batch folder', async (t) => {
      const a = await seed(h, 'win1', 'Window One', ['w1.pdf'])
      const b = await seed(h, 'win2', 'Window Two', ['w2.pdf'])
      const ja = await h.api('POST', '/v1/exports', { body: { flow: 'nightly', recordIds: [a.opp] } })
      const jb = await h.api('POST', '/v1/exports', { body: { flow: 'nightly', recordIds: [b.opp] } })
      t.equal(ja.json.state, 'waiting_for_window')
      const waiting = (await h.api('GET', `/v1/jobs/${ja.json.jobId}`)).json
      t.equal(waiting.state, 'waiting_for_window')
      t.equal(waiting.notBefore, '2026-11-25T18:00:00.000Z')
      t.same(await h.server.bridge.exports.releaseWindow('nightly'), [], 'nothing due before the window')
      now = Date.parse('2026-11-25T18:00:05Z')
      const released = await h.server.bridge.exports.releaseWindow('nightly')
      t.same(released.sort(), [ja.json.jobId, jb.json.jobId].sort())
      await h.server.bridge.exports.settled(ja.json.jobId)
      await h.server.bridge.exports.settled(jb.json.jobId)
      t.same(await h.list('nightly'), ['batch-20261125-1800'])
      const batch = await h.list('nightly/batch-20261125-1800')
      t.ok(
        batch.includes('Window One_w1.pdf') && batch.includes('Window Two_w2.pdf'),
        'both files in one folder',
      )
      t.ok(batch.includes('_DONE'), 'one done-marker')
      t.equal(batch.filter((n) => n.startsWith('manifest-')).length, 1, 'one manifest')
    })
  },
)
