/**
 * The inbound flow end to end over real sockets, once per protocol: files
 * matched by name lookup, by record id and by folder land on the right
 * records; unmatched / ambiguous / unrecognised files end in the error
 * folder with their .error.json; a file still being written waits for a
 * later run; a second run creates no duplicate.
 */
import { createHash } from 'node:crypto'
import { utimes } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { toId18 } from '../../src/domain/record-ids.js'
import {
  API_KEY,
  type Protocol,
  REMOTE_PASSWORD,
  sdriveFiles,
  seedRecords,
  standardFlow,
  startHarness,
  wipRecords,
} from '../support/harness.js'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

for (const protocol of ['sftp', 'ftp', 'ftps'] as Protocol[]) {
  t.test(`inbound over ${protocol}`, async (t) => {
    const h = await startHarness({
      protocol,
      flows: (endpoint) => [
        standardFlow(endpoint, {
          match: [
            { type: 'folder', template: 'accounts/{AccountNumber}', object: 'Account' },
            { type: 'filename', pattern: "^(?<AccountNumber>[A-Z']+-\\d+)_", object: 'Account' },
            { type: 'filename', pattern: '^acct=(?<AccountNumber>.+)\\.txt$', object: 'Account' },
            {
              type: 'recordId',
              object: 'Opportunity',
              target: { fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
            },
          ],
        }),
      ],
    })
    t.teardown(() => h.close())
    const ids = seedRecords(h.sandbox)
    const oppId = toId18(ids.opp.slice(0, 15))

    const files: Record<string, string> = {
      'inbox/ACME-001_contract.pdf': 'acme contract',
      "inbox/O'BRIEN-1_deal über 2024.pdf": 'obrien deal',
      'inbox/accounts/GLOBEX-7/invoice 2024.pdf': 'globex invoice',
      [`inbox/signed ${oppId}.pdf`]: 'signed opportunity',
      'inbox/NOPE-999_x.pdf': 'nobody',
      'inbox/TWIN-1_x.pdf': 'two accounts',
      'inbox/holiday.pdf': 'no rule',
      "inbox/acct=x' OR AccountNumber != 'y.txt": 'injection attempt',
    }
    for (const [path, content] of Object.entries(files)) await h.put(path, content)
    await h.put('inbox/ACME-001_still-writing.pdf', 'partial', { ageSeconds: 0 })
    const accountsBefore = JSON.stringify(h.sandbox.records('Account'))

    const plan = await h.api('POST', '/v1/flows/partner-docs/runs?dryRun=true')
    t.equal(plan.status, 200, 'dry run answers 200')
    const actions = Object.fromEntries(
      plan.json.files.map((f: { path: string; action: string }) => [f.path, f.action]),
    )
    t.equal(actions['/inbox/ACME-001_contract.pdf'], 'upload')
    t.equal(actions['/inbox/NOPE-999_x.pdf'], 'fail')
    t.equal(actions['/inbox/ACME-001_still-writing.pdf'], 'wait')
    t.equal(sdriveFiles(h.sandbox).length, 0, 'the dry run uploaded nothing')
    t.ok(await h.exists('inbox/ACME-001_contract.pdf'), 'the dry run moved nothing')

    const run = await h.runAndWait('partner-docs')
    t.equal(run.state, 'partially_failed')
    t.equal(run.counts.done, 4, 'four files placed')
    t.equal(run.counts.failed, 4, 'four files failed')
    const byName = Object.fromEntries(run.items.map((i) => [i.name, i]))

    const accountFiles = sdriveFiles(h.sandbox)
    const onRecord = (recordId: string) =>
      accountFiles
        .filter((f) => String(f.cg__Account__c).slice(0, 15) === recordId.slice(0, 15))
        .map((f) => f.cg__File_Name__c)
    t.same(onRecord(ids.acme), ['ACME-001_contract.pdf'], 'name lookup → Acme')
    t.same(onRecord(ids.obrien), ["O'BRIEN-1_deal über 2024.pdf"], 'quotes, unicode and spaces survive')
    t.same(onRecord(ids.globex), ['invoice 2024.pdf'], 'folder template → Globex')
    const oppFiles = sdriveFiles(h.sandbox, 'cg__OpportunityFile__c')
    t.same(
      oppFiles.map((f) => f.cg__File_Name__c),
      [`signed ${oppId}.pdf`],
      'record id in the name → Opportunity',
    )
    t.equal(
      wipRecords(h.sandbox).length + wipRecords(h.sandbox, 'cg__OpportunityFile__c').length,
      0,
      'no WIP left',
    )

    const acmeFile = accountFiles.find((f) => f.cg__File_Name__c === 'ACME-001_contract.pdf')
    t.equal(acmeFile?.cg__Description__c, 'From partner-docs: ACME-001_contract.pdf', 'description template')
    const bytes = await h.sandbox.s3Object(String(acmeFile?.cg__Key__c))
    t.equal(bytes?.toString('utf8'), 'acme contract', 'S3 holds the exact bytes')
    t.equal(byName['ACME-001_contract.pdf']?.sha256, sha256('acme contract'), 'SHA-256 recorded on the item')

    t.same(
      await h.list('processed'),
      ['ACME-001_contract.pdf', "O'BRIEN-1_deal über 2024.pdf", 'accounts', `signed ${oppId}.pdf`].sort(),
    )
    t.same(await h.list('processed/accounts/GLOBEX-7'), ['invoice 2024.pdf'], 'folder structure kept')
    t.same(
      await h.list('errors'),
      [
        'NOPE-999_x.pdf',
        'NOPE-999_x.pdf.error.json',
        'TWIN-1_x.pdf',
        'TWIN-1_x.pdf.error.json',
        "acct=x' OR AccountNumber != 'y.txt",
        "acct=x' OR AccountNumber != 'y.txt.error.json",
        'holiday.pdf',
        'holiday.pdf.error.json',
      ].sort(),
    )
    const report = JSON.parse(await h.read('errors/TWIN-1_x.pdf.error.json'))
    t.equal(report.code, 'AMBIGUOUS_RECORD')
    t.equal(report.runId, run.id)
    t.match(report.message, /2 records match/)
    t.equal(JSON.parse(await h.read('errors/NOPE-999_x.pdf.error.json')).code, 'NO_MATCHING_RECORD')
    t.equal(JSON.parse(await h.read('errors/holiday.pdf.error.json')).code, 'NO_MATCH_RULE')
    t.equal(
      JSON.parse(await h.read("errors/acct=x' OR AccountNumber != 'y.txt.error.json")).code,
      'NO_MATCHING_RECORD',
      'the SOQL injection attempt matched nothing',
    )
    t.equal(JSON.stringify(h.sandbox.records('Account')), accountsBefore, 'and changed nothing')
    t.same(await h.list('inbox'), ['ACME-001_still-writing.pdf', 'accounts'], 'the file being written waits')
    t.ok(
      run.notes.some((n) => n.reason === 'NOT_READY' && n.path.endsWith('still-writing.pdf')),
      'with a note',
    )

    // The writer finishes; the next run takes it and duplicates nothing.
    const old = (Date.now() - 3600_000) / 1000
    await utimes(join(h.remoteRoot, 'inbox/ACME-001_still-writing.pdf'), old, old)
    const second = await h.runAndWait('partner-docs')
    t.equal(second.state, 'succeeded')
    t.equal(second.counts.done, 1)
    t.same(onRecordAfter(), ['ACME-001_contract.pdf', 'ACME-001_still-writing.pdf'])
    function onRecordAfter() {
      return sdriveFiles(h.sandbox)
        .filter((f) => String(f.cg__Account__c).slice(0, 15) === ids.acme.slice(0, 15))
        .map((f) => f.cg__File_Name__c)
        .sort()
    }
    const third = await h.runAndWait('partner-docs')
    t.equal(third.counts.total, 0, 'nothing left to take')
    t.equal(sdriveFiles(h.sandbox).length, 4, 'no duplicate on any account')

    const logText = h.logs.join('')
    for (const secret of [REMOTE_PASSWORD, h.sandbox.clientSecret, API_KEY]) {
      t.notOk(logText.includes(secret), 'no secret in the logs')
    }
    t.notMatch(logText, /"access_token"\s*:\s*"[^[]/, 'no access token in the logs')
  })
}
