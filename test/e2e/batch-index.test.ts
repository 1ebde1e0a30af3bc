/**
 * Index (sidecar) files of inbound batches end to end (SFTP and FTP, sandbox): an
 * index.csv names per file the Product2 record key and field values; a
 * file it does not name fails with NOT_IN_INDEX, a row whose file is not
 * there is reported as FILE_MISSING; the batch gets one summary in
 * GET /v1/runs/{id} and a result csv beside the index in the processed
 * folder; with index.required a batch waits, untouched, for its index.
 */
import { rm } from 'node:fs/promises'
import { parse } from 'csv-parse/sync'
import t from 'tap'
import { type Harness, startHarness } from '../support/harness.js'

const FILE_OBJECT = 'Product_File__c'

const catalogueFlow = (endpoint: string, name: string, index: Record<string, unknown>) => ({
  name,
  kind: 'inbound',
  source: { endpoint, directory: `/${name}`, include: ['**/*.pdf'], recursive: true },
  readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 60 },
  index,
  match: [{ type: 'index', object: 'Product2', key: { ProductCode: '{index.SKU}' } }],
  target: {
    fileObject: FILE_OBJECT,
    parentField: 'Parent__c',
    fields: {
      Document_Type__c: {
        value: '{index.Type}',
        type: 'picklist',
        values: ['spec-sheet', 'brochure', 'image'],
      },
      Language__c: '{index.Lang}',
      Description__c: '{index.Title} ({file.name})',
    },
  },
  existing: 'duplicate',
  after: { success: 'move', processedDirectory: `/${name}-done`, errorDirectory: `/${name}-errors` },
})

for (const protocol of ['sftp', 'ftp'] as const) {
  t.test(`index files of inbound batches (${protocol})`, async (t) => {
    const h: Harness = await startHarness({
      protocol,
      // A customer-made S-Drive file object for Product2, as in the demo.
      sandbox: { fileObjects: [FILE_OBJECT] },
      flows: (e) => [
        catalogueFlow(e, 'catalogue', { required: true }),
        catalogueFlow(e, 'optional', { names: ['manifest.json'] }),
        { ...catalogueFlow(e, 'kept', {}), after: { success: 'keep', errorDirectory: '/kept-errors' } },
      ],
    })
    t.teardown(() => h.close())
    const widget = h.sandbox.insert('Product2', { Name: 'Widget', ProductCode: 'WIDGET-100' })
    const gadget = h.sandbox.insert('Product2', { Name: 'Gadget', ProductCode: 'GADGET-7' })
    // The org's file object has the custom fields (the sandbox learns fields from a record).
    h.sandbox.insert(FILE_OBJECT, {
      File_Name__c: 'schema-seed',
      Parent__c: widget,
      WIP__c: false,
      Document_Type__c: null,
      Language__c: null,
      Description__c: null,
    })
    const file = (name: string) =>
      h.sandbox.records(FILE_OBJECT).find((f) => f.File_Name__c === name && f.WIP__c === false)

    t.test(
      'record key and fields from index.csv; NOT_IN_INDEX, FILE_MISSING, result csv, batches[]',
      async (t) => {
        await h.put('catalogue/drop-1/widget-spec.pdf', 'spec sheet bytes')
        await h.put('catalogue/drop-1/gadget.pdf', 'gadget image bytes')
        await h.put('catalogue/drop-1/stray.pdf', 'not in the index')
        await h.put(
          'catalogue/drop-1/index.csv',
          [
            'File,SKU,Type,Lang,Title',
            'widget-spec.pdf,WIDGET-100,spec-sheet,en,"Widget, spec sheet"',
            'gadget.pdf,GADGET-7,image,de,Gadget photo',
            'brochure.pdf,WIDGET-100,brochure,fr,Never sent',
            '',
          ].join('\r\n'),
        )
        await h.put('catalogue/drop-0/waiting.pdf', 'no index yet')
        const plan = await h.api('POST', '/v1/flows/catalogue/runs?dryRun=true')
        t.equal(plan.status, 200)
        t.same(plan.json.batches, [
          {
            folder: '/catalogue/drop-0',
            index: null,
            code: 'WAITING_FOR_INDEX',
            rows: 0,
            notInIndex: [],
            missing: [],
          },
          {
            folder: '/catalogue/drop-1',
            index: '/catalogue/drop-1/index.csv',
            code: null,
            rows: 3,
            notInIndex: ['stray.pdf'],
            missing: ['brochure.pdf'],
          },
        ])
        const planned = (path: string) => plan.json.files.find((f: { path: string }) => f.path === path)
        t.match(planned('/catalogue/drop-0/waiting.pdf'), { action: 'wait', code: 'WAITING_FOR_INDEX' })
        t.match(planned('/catalogue/drop-1/stray.pdf'), { action: 'fail', code: 'NOT_IN_INDEX' })
        t.match(planned('/catalogue/drop-1/brochure.pdf'), { action: 'missing', code: 'FILE_MISSING' })
        t.match(planned('/catalogue/drop-1/widget-spec.pdf'), { action: 'upload', targetRecordId: widget })
        t.equal(planned('/catalogue/drop-1/index.csv'), undefined, 'the index is no document')
        await rm(`${h.remoteRoot}/catalogue/drop-0`, { recursive: true })

        const run = await h.runAndWait('catalogue')
        t.same([run.counts.done, run.counts.failed], [2, 1])
        t.match(file('widget-spec.pdf'), {
          Parent__c: widget,
          Document_Type__c: 'spec-sheet',
          Language__c: 'en',
          Description__c: 'Widget, spec sheet (widget-spec.pdf)',
        })
        t.match(file('gadget.pdf'), { Parent__c: gadget, Document_Type__c: 'image', Language__c: 'de' })
        const stray = run.items.find((i) => i.name === 'stray.pdf')
        t.match(stray, { state: 'failed', errorCode: 'NOT_IN_INDEX', sdriveFileId: null })
        t.same(await h.list('catalogue-errors/drop-1'), ['stray.pdf', 'stray.pdf.error.json'])
        t.match(run.notes, [
          { path: '/catalogue/drop-1/brochure.pdf', reason: 'FILE_MISSING', message: /row 3 of index\.csv/ },
        ])

        t.equal(run.batches.length, 1, 'one summary for the batch')
        const batch = run.batches[0]
        t.match(batch, {
          folder: '/catalogue/drop-1',
          indexPath: '/catalogue/drop-1/index.csv',
          indexFinalPath: '/catalogue-done/drop-1/index.csv',
          rows: 3,
          done: 2,
          failed: 1,
          skipped: 0,
          notInIndex: ['stray.pdf'],
          missing: [{ file: 'brochure.pdf', row: 3 }],
          resultPath: '/catalogue-done/drop-1/index.csv.result.csv',
          settled: true,
        })
        t.same(
          await h.list('catalogue-done/drop-1'),
          ['gadget.pdf', 'index.csv', 'index.csv.result.csv', 'widget-spec.pdf'],
          'the index and its result beside the processed files',
        )
        t.same(await h.list('catalogue/drop-1'), [], 'nothing left in the batch folder')
        t.equal(file('index.csv'), undefined, 'the index is never uploaded')

        const result: Record<string, string>[] = parse(
          await h.read('catalogue-done/drop-1/index.csv.result.csv'),
          {
            columns: true,
          },
        )
        const widgetItem = run.items.find((i) => i.name === 'widget-spec.pdf')
        t.same(
          result.map((r) => [r.file, r.row, r.state, r.code]),
          [
            ['widget-spec.pdf', '1', 'done', ''],
            ['gadget.pdf', '2', 'done', ''],
            ['brochure.pdf', '3', 'missing', 'FILE_MISSING'],
            ['stray.pdf', '', 'failed', 'NOT_IN_INDEX'],
          ],
          'one line per index row, then the unindexed file',
        )
        t.match(result[0], { sdriveFileId: widgetItem?.sdriveFileId, recordId: widget })
      },
    )

    t.test('index.required: the batch waits untouched until its index is there', async (t) => {
      await h.put('catalogue/drop-2/gadget-brochure.pdf', 'brochure bytes')
      const first = await h.runAndWait('catalogue')
      t.equal(first.counts.total, 0, 'nothing taken')
      t.match(first.notes, [{ path: '/catalogue/drop-2/gadget-brochure.pdf', reason: 'WAITING_FOR_INDEX' }])
      t.same(await h.list('catalogue/drop-2'), ['gadget-brochure.pdf'], 'the file stays where it is')

      await h.put(
        'catalogue/drop-2/index.csv',
        'file,SKU,Type,Lang,Title\ngadget-brochure.pdf,GADGET-7,brochure,it,Opuscolo\n',
      )
      const second = await h.runAndWait('catalogue')
      t.equal(second.counts.done, 1)
      t.match(file('gadget-brochure.pdf'), {
        Parent__c: gadget,
        Document_Type__c: 'brochure',
        Language__c: 'it',
      })
      t.match(second.batches, [
        { folder: '/catalogue/drop-2', rows: 1, done: 1, missing: [], notInIndex: [] },
      ])
    })

    t.test('a broken index: INDEX_INVALID, the batch stays', async (t) => {
      await h.put('catalogue/drop-3/widget-photo.pdf', 'photo')
      await h.put('catalogue/drop-3/index.csv', 'File,SKU\n"widget-photo.pdf,WIDGET-100\n')
      const run = await h.runAndWait('catalogue')
      t.equal(run.counts.total, 0)
      t.match(run.notes, [
        { path: '/catalogue/drop-3/index.csv', reason: 'INDEX_INVALID' },
        { path: '/catalogue/drop-3/widget-photo.pdf', reason: 'WAITING_FOR_INDEX' },
      ])
      t.same(await h.list('catalogue/drop-3'), ['index.csv', 'widget-photo.pdf'])
    })

    t.test(
      'without required: a JSON index is used when present, files outside it go by the other rules',
      async (t) => {
        await h.put(
          'optional/manifest.json',
          JSON.stringify({
            generated: '2026-12-01',
            files: [
              { File: 'widget-2.pdf', SKU: 'WIDGET-100', Type: 'image', Lang: 'en', Title: 'Second photo' },
            ],
          }),
        )
        await h.put('optional/widget-2.pdf', 'second photo')
        await h.put('optional/unlisted.pdf', 'no row, no rule')
        const run = await h.runAndWait('optional')
        t.match(file('widget-2.pdf'), {
          Parent__c: widget,
          Document_Type__c: 'image',
          Description__c: 'Second photo (widget-2.pdf)',
        })
        t.match(
          run.items.find((i) => i.name === 'unlisted.pdf'),
          { state: 'failed', errorCode: 'NO_MATCH_RULE' },
        )
        t.match(run.batches, [
          { folder: '/optional', notInIndex: ['unlisted.pdf'], done: 1, failed: 1, settled: true },
        ])
        t.same(await h.list('optional-done'), ['manifest.json', 'manifest.json.result.csv', 'widget-2.pdf'])
      },
    )

    t.test('after.success keep: the result stays beside the index; neither is taken again', async (t) => {
      await h.put('kept/drop/widget.pdf', 'kept photo')
      await h.put('kept/drop/index.csv', 'File,SKU,Type,Lang,Title\nwidget.pdf,WIDGET-100,image,en,Kept\n')
      const first = await h.runAndWait('kept')
      t.equal(first.counts.done, 1)
      t.match(first.batches, [
        { resultPath: '/kept/drop/index.csv.result.csv', indexFinalPath: null, settled: true },
      ])
      t.same(await h.list('kept/drop'), ['index.csv', 'index.csv.result.csv', 'widget.pdf'])
      const second = await h.runAndWait('kept')
      t.equal(
        second.counts.total,
        0,
        'the kept file is processed already, the index and result are no documents',
      )
      t.same(second.batches, [], 'a handled index (its result beside it) is not read again')
      t.match(second.notes, [{ path: '/kept/drop/widget.pdf', reason: 'ALREADY_PROCESSED' }])
      t.equal(file('index.csv.result.csv'), undefined)
    })
  })
}
