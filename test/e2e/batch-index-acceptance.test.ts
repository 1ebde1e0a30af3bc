/**
 * Acceptance (issue 14): a 2,000-file catalogue batch with an index sets the
 * configured fields on every S-Drive file record; files missing from the
 * index and index rows without files are reported; Salesforce calls stay
 * under 0.05 per file (the sandbox's counter, printed).
 */
import { parse } from 'csv-parse/sync'
import t from 'tap'
import { type Harness, startHarness } from '../support/harness.js'

const FILE_OBJECT = 'Product_File__c'
const FILES = 2000
/** 100 files per product: S-Drive uploads are batched per parent record (up to 100 files a batch). */
const PRODUCTS = 20
const MISSING = 4
const UNINDEXED = 3

t.test('a 2,000-file catalogue batch with an index', async (t) => {
  const h: Harness = await startHarness({
    protocol: 'sftp',
    sandbox: { fileObjects: [FILE_OBJECT] },
    endpoint: { maxConnections: 16 },
    queue: { maxConcurrentTransfers: 32 },
    flows: (endpoint) => [
      {
        name: 'catalogue',
        kind: 'inbound',
        source: { endpoint, directory: '/catalogue', include: ['**/*.jpg'], recursive: true },
        readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 60 },
        index: { required: true, fileColumn: 'Image' },
        match: [{ type: 'index', object: 'Product2', key: { ProductCode: '{index.SKU}' } }],
        target: {
          fileObject: FILE_OBJECT,
          parentField: 'Parent__c',
          fields: {
            Document_Type__c: { value: '{index.Kind}', type: 'picklist', values: ['image', 'thumbnail'] },
            Language__c: '{index.Lang}',
            Description__c: '{index.Caption}',
          },
        },
        existing: 'duplicate',
        after: {
          success: 'move',
          processedDirectory: '/catalogue-done',
          errorDirectory: '/catalogue-errors',
        },
      },
    ],
  })
  t.teardown(() => h.close())
  const products = Array.from({ length: PRODUCTS }, (_, p) => {
    const code = `SKU-${String(p).padStart(4, '0')}`
    return { code, id: h.sandbox.insert('Product2', { Name: `Product ${p}`, ProductCode: code }) }
  })
  h.sandbox.insert(FILE_OBJECT, {
    File_Name__c: 'schema-seed',
    Parent__c: products[0]?.id,
    WIP__c: false,
    Document_Type__c: null,
    Language__c: null,
    Description__c: null,
  })

  const body = Buffer.alloc(1024, 0x61)
  const rows = ['Image,SKU,Kind,Lang,Caption']
  const expected = new Map<string, { parent: string; kind: string; lang: string; caption: string }>()
  for (let i = 0; i < FILES; i++) {
    const product = products[i % PRODUCTS] as { code: string; id: string }
    const name = `img-${String(i).padStart(5, '0')}.jpg`
    const kind = i % 2 === 0 ? 'image' : 'thumbnail'
    const lang = ['en', 'de', 'fr'][i % 3] as string
    const caption = `${product.code} view ${i}`
    rows.push(`${name},${product.code},${kind},${lang},${caption}`)
    expected.set(name, { parent: product.id, kind, lang, caption })
    await h.put(`catalogue/spring-2027/${name}`, body)
  }
  for (let m = 0; m < MISSING; m++) rows.push(`gone-${m}.jpg,SKU-0000,image,en,never sent`)
  for (let u = 0; u < UNINDEXED; u++) await h.put(`catalogue/spring-2027/extra-${u}.jpg`, body)
  await h.put('catalogue/spring-2027/index.csv', `${rows.join('\n')}\n`)

  const callsBefore = h.sandbox.apiCallCount()
  const byKindBefore = { ...h.sandbox.calls }
  const started = Date.now()
  const run = await h.runAndWait('catalogue')
  const seconds = (Date.now() - started) / 1000
  const calls = h.sandbox.apiCallCount() - callsBefore
  const perFile = calls / (FILES + UNINDEXED)
  t.comment(
    `${FILES} indexed + ${UNINDEXED} unindexed files in ${seconds.toFixed(1)} s: ${calls} Salesforce API calls, ${perFile.toFixed(4)} per file`,
  )
  const byKind = Object.entries(h.sandbox.calls)
    .map(([kind, n]) => [kind, n - (byKindBefore[kind] ?? 0)] as const)
    .filter(([, n]) => n > 0)
  t.comment(`calls by kind: ${byKind.map(([k, n]) => `${k} ${n}`).join(', ')}`)
  t.ok(perFile < 0.05, `Salesforce calls per file ${perFile.toFixed(4)} < 0.05`)
  t.same([run.counts.done, run.counts.failed], [FILES, UNINDEXED])

  const records = h.sandbox
    .records(FILE_OBJECT)
    .filter((r) => r.WIP__c === false && r.File_Name__c !== 'schema-seed')
  t.equal(records.length, FILES, 'one S-Drive file per indexed file')
  const wrong = records.filter((r) => {
    const want = expected.get(String(r.File_Name__c))
    return (
      !want ||
      String(r.Parent__c).slice(0, 15) !== want.parent.slice(0, 15) ||
      r.Document_Type__c !== want.kind ||
      r.Language__c !== want.lang ||
      r.Description__c !== want.caption
    )
  })
  t.same(wrong.slice(0, 3), [], 'every file record has its parent and the fields of its index row')

  t.match(run.batches, [
    {
      folder: '/catalogue/spring-2027',
      rows: FILES + MISSING,
      done: FILES,
      failed: UNINDEXED,
      notInIndex: Array.from({ length: UNINDEXED }, (_, u) => `extra-${u}.jpg`),
      missing: Array.from({ length: MISSING }, (_, m) => ({ file: `gone-${m}.jpg`, row: FILES + m + 1 })),
      settled: true,
    },
  ])
  t.equal(run.notes.filter((n) => n.reason === 'FILE_MISSING').length, MISSING)
  const result: Record<string, string>[] = parse(
    await h.read('catalogue-done/spring-2027/index.csv.result.csv'),
    { columns: true },
  )
  t.equal(result.length, FILES + MISSING + UNINDEXED, 'one result line per index row and per unindexed file')
  t.equal(result.filter((r) => r.state === 'done' && r.sdriveFileId !== '').length, FILES)
  t.equal(result.filter((r) => r.code === 'FILE_MISSING').length, MISSING)
  t.equal(result.filter((r) => r.code === 'NOT_IN_INDEX').length, UNINDEXED)
})
