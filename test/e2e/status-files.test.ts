/**
 * Status files end to end (SFTP; the CSV basics also over FTP): an ERP's
 * CSV / JSON / XML answers update Salesforce records in collections calls
 * of 200, bad rows are reported (API + error report beside the file)
 * without blocking the good ones, returned documents are attached to the
 * right record, malformed files go to the error folder with the reason, and
 * a file is applied exactly once across re-runs and retries.
 */
import t from 'tap'
import { type Harness, type Protocol, sdriveFiles, startHarness } from '../support/harness.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

const fields = {
  ERP_Status__c: { type: 'picklist', values: ['Open', 'Shipped', 'Invoiced'], column: 'Status' },
  ERP_Amount__c: { type: 'number', column: 'Amount' },
  ERP_Ship_Date__c: { type: 'date', column: 'ShipDate' },
}

const statusFlow = (endpoint: string, name: string, extra: Record<string, unknown> = {}) => ({
  name,
  kind: 'status',
  source: { endpoint, directory: `/${name}/in` },
  readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 60 },
  format: { type: 'csv' },
  object: 'Account',
  key: { column: 'AccountId', by: 'id' },
  fields,
  document: { column: 'Document', fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
  after: { success: 'move', processedDirectory: `/${name}/done`, errorDirectory: `/${name}/errors` },
  retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
  ...extra,
})

const csv = (rows: string[][]) => `${rows.map((r) => r.join(',')).join('\r\n')}\r\n`

for (const protocol of ['sftp', 'ftp'] as Protocol[]) {
  t.test(`status files over ${protocol}`, async (t) => {
    const h: Harness = await startHarness({
      protocol,
      flows: (e) => [
        statusFlow(e, 'erp'),
        statusFlow(e, 'erp-keep', {
          key: { column: 'Customer', by: 'externalId', field: 'AccountNumber' },
          after: { success: 'keep', errorDirectory: '/erp-keep/errors' },
        }),
        statusFlow(e, 'erp-json', { format: { type: 'json', recordsPath: 'statuses' } }),
        statusFlow(e, 'erp-xml', { format: { type: 'xml', recordsPath: 'statuses.status' } }),
        statusFlow(e, 'erp-answers', { key: { column: 'Ref', by: 'correlationId' } }),
        {
          name: 'erp-out',
          kind: 'outbound',
          source: { object: 'Account', fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
          destination: { endpoint: e, directory: '/erp-out/inbox', fileName: '{correlationId}_{file.name}' },
          manifest: { format: 'csv' },
          retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
        },
      ],
    })
    t.teardown(() => h.close())
    const accounts = Array.from({ length: 500 }, (_, i) =>
      h.sandbox.insert('Account', {
        Name: `Customer ${i + 1}`,
        AccountNumber: `C-${String(i + 1).padStart(4, '0')}`,
        ERP_Status__c: 'Open',
        ERP_Amount__c: 0,
        ERP_Ship_Date__c: null,
      }),
    )
    h.sandbox.addValidationRule('Account', 'ERP_Status__c', (value) =>
      value === 'Invoiced' ? 'An account cannot be invoiced before it has shipped' : null,
    )
    const account = (id: string) =>
      h.sandbox.records('Account').find((r) => r.Id === id) as Record<string, any>
    const compositeCalls = () => h.sandbox.calls.composite ?? 0

    t.test('500 rows update 500 records with 3 collections calls', async (t) => {
      const rows = accounts.map((id, i) => [id, 'Shipped', `${i + 1}.50`, '2026-11-20', ''])
      await h.put(
        'erp/in/orders-500.csv',
        csv([['AccountId', 'Status', 'Amount', 'ShipDate', 'Document'], ...rows]),
      )
      const before = compositeCalls()
      const run = await h.runAndWait('erp')
      t.equal(run.state, 'succeeded')
      t.equal(compositeCalls() - before, 3, 'ceil(500 / 200) update calls')
      t.match(run.items[0], {
        state: 'done',
        statusFile: { rowsTotal: 500, rowsApplied: 500, rowsRejected: 0 },
      })
      t.equal(accounts.filter((id) => account(id).ERP_Status__c === 'Shipped').length, 500)
      t.equal(account(accounts[41] as string).ERP_Amount__c, 42.5, 'numbers go as numbers')
      t.equal(account(accounts[0] as string).ERP_Ship_Date__c, '2026-11-20')
      t.same(await h.list('erp/done'), ['orders-500.csv'], 'moved, no error report')
    })

    t.test('bad rows are reported and do not block the good ones', async (t) => {
      const [good, unknownLater, badValue, notAllowed, refused] = accounts.slice(100, 105) as [
        string,
        string,
        string,
        string,
        string,
      ]
      const missing = `${good.slice(0, 10)}99999AAA`
      await h.put(
        'erp/in/mixed.csv',
        csv([
          ['AccountId', 'Status', 'Amount', 'ShipDate', 'Document', 'OwnerId'],
          [good, 'Open', '10', '', '', ''],
          [missing, 'Open', '11', '', '', ''],
          [badValue, 'Open', '12abc', '', '', ''],
          [notAllowed, 'Open', '13', '', '', '005000000000002AAA'],
          [refused, 'Invoiced', '14', '', '', ''],
          [unknownLater, 'Lost', '15', '', '', ''],
        ]),
      )
      const run = await h.runAndWait('erp')
      t.equal(run.state, 'partially_failed')
      const item = run.items[0] as any
      t.match(item, {
        state: 'done',
        errorCode: 'ROWS_REJECTED',
        statusFile: {
          rowsTotal: 6,
          rowsApplied: 1,
          rowsRejected: 5,
          reportPath: '/erp/done/mixed.errors.csv',
        },
      })
      const byRow = Object.fromEntries(item.statusFile.rows.map((r: any) => [r.row, r]))
      t.match(byRow[2], { code: 'UNKNOWN_RECORD', outcome: 'rejected' })
      t.match(byRow[3], { code: 'INVALID_FIELD_VALUE', field: 'ERP_Amount__c', message: /12abc/ })
      t.match(byRow[4], { code: 'FIELD_NOT_ALLOWED', field: 'OwnerId' })
      t.match(byRow[5], { code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: /cannot be invoiced/ })
      t.match(byRow[6], { code: 'INVALID_FIELD_VALUE', field: 'ERP_Status__c', message: /Lost/ })
      t.equal(account(good).ERP_Amount__c, 10, 'the good row is applied')
      t.equal(
        account(notAllowed).ERP_Amount__c,
        104.5,
        'a row setting a field it may not set is not applied at all',
      )
      t.not(account(notAllowed).OwnerId, '005000000000002AAA')
      t.equal(account(refused).ERP_Status__c, 'Shipped', 'what Salesforce refused stays as it was')
      const report = await h.read('erp/done/mixed.errors.csv')
      t.match(report, /^row,key,recordId,code,field,message\r\n/)
      t.equal(report.trim().split('\r\n').length, 6, 'header + the 5 rejected rows')
      t.match(report, /FIELD_NOT_ALLOWED/)
    })

    t.test('a returned document is attached to the row’s record', async (t) => {
      const target = accounts[200] as string
      await h.put('erp/in/invoice-200.pdf', '%PDF invoice 200')
      await h.put(
        'erp/in/with-doc.csv',
        csv([
          ['AccountId', 'Status', 'Amount', 'ShipDate', 'Document'],
          [target, 'Shipped', '200', '', 'invoice-200.pdf'],
          [accounts[201] as string, 'Shipped', '201', '', 'missing.pdf'],
        ]),
      )
      const run = await h.runAndWait('erp')
      const status = run.items.find((i: any) => i.name === 'with-doc.csv') as any
      const doc = run.items.find((i: any) => i.name === 'invoice-200.pdf') as any
      t.match(doc, { state: 'done', targetRecordId: target })
      const attached = sdriveFiles(h.sandbox).filter((f) => f.cg__File_Name__c === 'invoice-200.pdf')
      t.equal(attached.length, 1)
      t.equal(String(attached[0]?.cg__Account__c).slice(0, 15), target.slice(0, 15), 'on the right record')
      t.equal((await h.sandbox.s3Object(String(attached[0]?.cg__Key__c)))?.toString(), '%PDF invoice 200')
      t.match(status.statusFile.rows, [
        { row: 1, outcome: 'applied', documentItemId: doc.id },
        { row: 2, outcome: 'applied', documentItemId: null },
        { row: 2, outcome: 'rejected', code: 'DOCUMENT_NOT_FOUND', message: /missing\.pdf/ },
      ])
      t.equal(
        account(accounts[201] as string).ERP_Amount__c,
        201,
        'the row without its document still applied',
      )
      t.same(await h.list('erp/in'), [], 'status file and document tidied')
    })

    t.test('re-running the same file changes nothing; a retried run does not re-apply', async (t) => {
      await h.put(
        'erp-keep/in/by-number.csv',
        csv([
          ['Customer', 'Status', 'Amount', 'ShipDate', 'Document'],
          ['C-0301', 'Open', '301', '', ''],
          ['C-9999', 'Open', '1', '', ''],
        ]),
      )
      const first = await h.runAndWait('erp-keep')
      t.match(first.items[0], { statusFile: { rowsApplied: 1, rowsRejected: 1 } })
      t.match((first.items[0] as any).statusFile.rows, [
        { row: 2, code: 'UNKNOWN_RECORD', message: /C-9999/ },
      ])
      t.equal(account(accounts[300] as string).ERP_Amount__c, 301)
      h.sandbox.insert('Account', { Name: 'late', AccountNumber: 'C-9999' })
      const before = h.sandbox.apiCallCount()
      const second = await h.runAndWait('erp-keep')
      t.equal(second.counts.total, 0)
      t.match(second.notes, [{ reason: 'ALREADY_PROCESSED', path: '/erp-keep/in/by-number.csv' }])
      t.equal(h.sandbox.apiCallCount() - before, 0, 'no Salesforce call at all')
      const retry = await h.api('POST', `/v1/runs/${first.id}/retry`)
      t.equal(retry.json.retried, 0, 'a status file with rejected rows is done, not failed: nothing to retry')
    })

    t.test('a run that failed after one applied chunk resumes without re-applying it', async (t) => {
      const rows = accounts.slice(0, 450).map((id) => [id, 'Open', '7', '', ''])
      await h.put(
        'erp/in/resume.csv',
        csv([['AccountId', 'Status', 'Amount', 'ShipDate', 'Document'], ...rows]),
      )
      h.sandbox.failEvery('composite', 2, {
        status: 400,
        errorCode: 'INVALID_FIELD',
        message: 'refused once',
      })
      const before = compositeCalls()
      const failed = await h.runAndWait('erp')
      h.sandbox.clearFaults()
      t.equal(failed.state, 'failed')
      t.match(failed.items[0], { state: 'failed', statusFile: { rowsApplied: 200 } })
      t.equal(compositeCalls() - before, 2, 'chunk 1 applied, chunk 2 refused')
      t.same(await h.list('erp/errors'), ['resume.csv', 'resume.csv.error.json'])
      const retried = await h.api('POST', `/v1/runs/${failed.id}/retry`)
      t.equal(retried.json.retried, 1)
      const done = await h.waitForRun(failed.id)
      t.equal(done.state, 'succeeded')
      t.equal(compositeCalls() - before, 4, 'only chunks 2 and 3 again: chunk 1 is not applied twice')
      t.match(done.items[0], { statusFile: { rowsApplied: 450, rowsRejected: 0 } })
      t.equal(accounts.slice(0, 450).filter((id) => account(id).ERP_Amount__c === 7).length, 450)
      t.same(await h.list('erp/errors'), [], 'the file left the error folder once applied')
    })

    t.test('JSON and XML status files', async (t) => {
      const [a, b] = accounts.slice(400, 402) as [string, string]
      await h.put(
        'erp-json/in/s.json',
        JSON.stringify({
          statuses: [
            { AccountId: a, Status: 'Shipped', Amount: 401.25 },
            { AccountId: b, Status: 'Shipped', ShipDate: null },
          ],
        }),
      )
      const json = await h.runAndWait('erp-json')
      t.equal(json.state, 'succeeded')
      t.equal(account(a).ERP_Amount__c, 401.25)
      t.equal(account(b).ERP_Ship_Date__c, null, 'JSON null clears the field')
      await h.put(
        'erp-xml/in/s.xml',
        `<?xml version="1.0" encoding="UTF-8"?><statuses><status AccountId="${a}"><Status>Open</Status><Amount>1.5</Amount></status></statuses>`,
      )
      const xml = await h.runAndWait('erp-xml')
      t.equal(xml.state, 'succeeded')
      t.equal(account(a).ERP_Status__c, 'Open')
      t.equal(account(a).ERP_Amount__c, 1.5)
    })

    t.test('unparseable files go to the error folder with the reason, nothing applied', async (t) => {
      const target = accounts[450] as string
      const before = compositeCalls()
      await h.put('erp/in/ragged.csv', `AccountId,Status\r\n${target},Shipped,extra\r\n`)
      await h.put(
        'erp/in/latin1.csv',
        Buffer.concat([Buffer.from(`AccountId,Status\r\n${target},Caf`), Buffer.from([0xe9, 0x0d, 0x0a])]),
      )
      await h.put('erp-json/in/broken.json', '{"statuses": [ {"AccountId": ')
      await h.put(
        'erp-xml/in/dtd.xml',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><statuses><status>&e;</status></statuses>',
      )
      const runs = [await h.runAndWait('erp'), await h.runAndWait('erp-json'), await h.runAndWait('erp-xml')]
      t.same(runs.flatMap((r) => r.items.map((i: any) => [i.name, i.state, i.errorCode])).sort(), [
        ['broken.json', 'failed', 'STATUS_FILE_UNPARSEABLE'],
        ['dtd.xml', 'failed', 'STATUS_FILE_UNPARSEABLE'],
        ['latin1.csv', 'failed', 'STATUS_FILE_ENCODING'],
        ['ragged.csv', 'failed', 'STATUS_FILE_UNPARSEABLE'],
      ])
      t.equal(compositeCalls() - before, 0, 'no update call for any of them')
      t.equal(account(target).ERP_Status__c, 'Shipped')
      const reason = JSON.parse(await h.read('erp/errors/ragged.csv.error.json'))
      t.match(reason, { code: 'STATUS_FILE_UNPARSEABLE', message: /line 2/ })
      t.match(JSON.parse(await h.read('erp/errors/latin1.csv.error.json')).message, /utf8|UTF-8/i)
      t.match(JSON.parse(await h.read('erp-xml/errors/dtd.xml.error.json')).message, /DTD|DOCTYPE/)
    })

    t.test('a deeply nested XML or JSON file is STATUS_FILE_UNPARSEABLE, not INTERNAL', async (t) => {
      // 100,000 levels: fast-xml-parser threw a plain Error past 100, recorded as INTERNAL.
      const depth = 100_000
      await h.put('erp-xml/in/deep.xml', `<statuses>${'<s>'.repeat(depth)}${'</s>'.repeat(depth)}</statuses>`)
      await h.put('erp-json/in/deep.json', `{"statuses": ${'['.repeat(depth)}${']'.repeat(depth)}}`)
      const runs = [await h.runAndWait('erp-xml'), await h.runAndWait('erp-json')]
      for (const run of runs) {
        t.equal(run.state, 'failed', `${run.flow}: the run records the file's failure`)
        t.notMatch(JSON.stringify(run), /INTERNAL/, `${run.flow}: nothing in the run is INTERNAL`)
      }
      t.same(
        runs.flatMap((r) => r.items.map((i: any) => [i.name, i.state, i.errorCode])),
        [
          ['deep.xml', 'failed', 'STATUS_FILE_UNPARSEABLE'],
          ['deep.json', 'failed', 'STATUS_FILE_UNPARSEABLE'],
        ],
      )
      const errors = [...(await h.list('erp-xml/errors')), ...(await h.list('erp-json/errors'))]
      for (const name of ['deep.xml', 'deep.xml.error.json', 'deep.json', 'deep.json.error.json']) {
        t.ok(errors.includes(name), `${name} in the error folder`)
      }
      t.match(JSON.parse(await h.read('erp-xml/errors/deep.xml.error.json')), {
        code: 'STATUS_FILE_UNPARSEABLE',
        message: /nested deeper than 32 levels/,
      })
      t.match(JSON.parse(await h.read('erp-json/errors/deep.json.error.json')), {
        code: 'STATUS_FILE_UNPARSEABLE',
        message: /nested deeper than 32 levels/,
      })
    })

    t.test('legacy exchange: an export carries correlation ids, the ERP answers by them', async (t) => {
      const customer = accounts[460] as string
      const [fileId] = await seedSDriveFiles(
        h.server.bridge.sdrive,
        { parentId: customer, fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
        [{ name: 'order-460.pdf', content: '%PDF order' }],
      )
      const res = await h.api('POST', '/v1/exports', { body: { flow: 'erp-out', recordIds: [customer] } })
      await h.server.bridge.exports.settled(res.json.jobId)
      const correlationId = `${res.json.jobId}.${fileId}`
      t.same(
        (await h.list('erp-out/inbox')).filter((n) => n.endsWith('.pdf')),
        [`${correlationId}_order-460.pdf`],
      )
      const manifest = await h.read(`erp-out/inbox/manifest-${res.json.jobId}.csv`)
      t.match(
        manifest.split('\r\n')[1],
        new RegExp(`,${correlationId.replace('.', '\\.')}$`),
        'in the manifest too',
      )
      await h.put(
        'erp-answers/in/answers.csv',
        csv([
          ['Ref', 'Status', 'Amount', 'ShipDate', 'Document'],
          [correlationId, 'Shipped', '460', '2026-11-24', ''],
          [`${res.json.jobId}.a0B5b0000000999AAA`, 'Shipped', '1', '', ''],
        ]),
      )
      const run = await h.runAndWait('erp-answers')
      t.equal(account(customer).ERP_Amount__c, 460, 'the exported file’s record is updated')
      t.equal(account(customer).ERP_Ship_Date__c, '2026-11-24')
      t.match((run.items[0] as any).statusFile.rows, [{ row: 2, code: 'UNKNOWN_RECORD' }])
    })

    t.test('metrics count status rows', async (t) => {
      const metrics = String((await h.api('GET', '/metrics')).json)
      t.match(metrics, /bridge_status_rows_total\{flow="erp",outcome="applied"\} \d+/)
      t.match(metrics, /bridge_status_rows_total\{flow="erp",outcome="rejected"\} \d+/)
    })
  })
}
