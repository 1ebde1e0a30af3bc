/** Index (sidecar) files: parsing the three formats, malformed input, and how rows meet a batch folder's files. */
import t from 'tap'
import {
  indexResultName,
  planBatches,
  reconcileBatch,
  renderBatchResult,
  withinFileLimit,
} from '../../src/domain/batch-index.js'
import { indexFormatOf, parseIndexFile } from '../../src/domain/index-file.js'

const opts = { fileColumn: 'File' }
const bytes = (text: string) => Buffer.from(text, 'utf8')

t.test('CSV: header row, any case for the file column, quoted cells, blank lines', async (t) => {
  const parsed = parseIndexFile(
    'index.csv',
    bytes('\uFEFFfile,SKU,Title\r\na.pdf,W-1,"Spec, v2"\r\n\r\nsub\\b.pdf,W-2,\r\n'),
    opts,
  )
  t.same(parsed, {
    ok: true,
    format: 'csv',
    columns: ['file', 'SKU', 'Title'],
    rows: [
      { row: 1, file: 'a.pdf', columns: { file: 'a.pdf', SKU: 'W-1', Title: 'Spec, v2' } },
      { row: 2, file: 'b.pdf', columns: { file: 'sub\\b.pdf', SKU: 'W-2', Title: '' } },
    ],
  })
})

t.test('JSON: an array of objects, or an object holding one (files beside other properties)', async (t) => {
  const array = parseIndexFile(
    'index.json',
    bytes('[{"File":"a.pdf","SKU":"W-1","Qty":3,"Note":null}]'),
    opts,
  )
  t.match(array, {
    ok: true,
    format: 'json',
    rows: [{ file: 'a.pdf', columns: { SKU: 'W-1', Qty: '3', Note: '' } }],
  })
  const wrapped = parseIndexFile(
    'manifest.json',
    bytes('{"generated":"2026-12-01","files":[{"File":"b.pdf","SKU":"W-2"}]}'),
    opts,
  )
  t.match(wrapped, { ok: true, rows: [{ row: 1, file: 'b.pdf', columns: { SKU: 'W-2' } }] })
})

t.test('XML: repeated elements, columns as child elements or attributes', async (t) => {
  const parsed = parseIndexFile(
    'index.xml',
    bytes(
      '<?xml version="1.0"?><index><file File="a.pdf" SKU="W-1"><Title>Spec &amp; sheet</Title></file>' +
        '<file><File>b.pdf</File><SKU>W-2</SKU></file></index>',
    ),
    opts,
  )
  t.same(parsed, {
    ok: true,
    format: 'xml',
    columns: ['File', 'SKU', 'Title'],
    rows: [
      { row: 1, file: 'a.pdf', columns: { File: 'a.pdf', SKU: 'W-1', Title: 'Spec & sheet' } },
      { row: 2, file: 'b.pdf', columns: { File: 'b.pdf', SKU: 'W-2' } },
    ],
  })
})

t.test('the format of a name without a known extension comes from its first character', async (t) => {
  t.equal(indexFormatOf('INDEX', bytes('  [{"File":"a"}]')), 'json')
  t.equal(indexFormatOf('INDEX', bytes('<index/>')), 'xml')
  t.equal(indexFormatOf('INDEX', bytes('File,SKU')), 'csv')
  t.equal(indexFormatOf('index.XML', bytes('File,SKU')), 'xml', 'the extension wins')
})

t.test('malformed input is INDEX_INVALID with what is wrong', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['index.csv', 'File,SKU\n"a.pdf,W-1\n', /index\.csv: .*quote/i],
    ['index.csv', 'Name,SKU\na.pdf,W-1\n', /no "File" column \(index\.fileColumn\); columns: Name, SKU/],
    ['index.csv', 'File,SKU\na.pdf,W-1\n,W-2\n', /row 2 has no file name in "File"/],
    ['index.csv', 'File,SKU\na.pdf,W-1\nsub/a.pdf,W-2\n', /rows 1 and 2 both name "a\.pdf"/],
    ['index.json', '{"File": "a.pdf"', /index\.json: JSON: /],
    ['index.json', '[{"File":"a.pdf","SKU":{"nested":true}}]', /rows must be flat/],
    ['index.json', '{"a":[],"b":[]}', /expected an array of rows/],
    ['index.xml', '<index><file><File>a.pdf</File></index>', /index\.xml: /],
    ['index.xml', '<!DOCTYPE x [<!ENTITY e "boom">]><index/>', /index\.xml: /],
    ['index.csv', 'File,SKU\n\xff\xfe,W-1\n', /index\.csv: /],
  ]
  for (const [name, text, message] of cases) {
    const parsed = parseIndexFile(name, Buffer.from(text, 'latin1'), opts)
    t.match(parsed, { ok: false, code: 'INDEX_INVALID', message }, `${name}: ${JSON.stringify(text)}`)
  }
})

t.test('an empty index has no rows', async (t) => {
  t.match(parseIndexFile('index.csv', bytes('File,SKU\n'), opts), { ok: true, rows: [] })
  t.match(parseIndexFile('index.json', bytes('[]'), opts), { ok: true, rows: [] })
})

t.test('rows meet files: NOT_IN_INDEX and FILE_MISSING', async (t) => {
  const parsed = parseIndexFile('index.csv', bytes('File\na.pdf\nb.pdf\nc.pdf\n'), opts)
  if (!parsed.ok) throw new Error(parsed.message)
  const met = reconcileBatch(parsed.rows, ['c.pdf', 'z.pdf', 'a.pdf'])
  t.same(met.notInIndex, ['z.pdf'])
  t.same(met.missing, [{ file: 'b.pdf', row: 2 }])
  t.same([...met.rowOf.keys()], ['a.pdf', 'b.pdf', 'c.pdf'])
})

const f = (path: string) => ({ path, name: path.slice(path.lastIndexOf('/') + 1) })

t.test('planBatches: a batch waits for its index (required) and for its files being written', async (t) => {
  const plan = planBatches({
    ready: [f('/in/a/1.pdf'), f('/in/b/2.pdf'), f('/in/c/3.pdf'), f('/in/d/4.pdf')],
    indexes: [f('/in/a/index.csv'), f('/in/c/index.json'), f('/in/c/index.csv')],
    notReady: ['/in/c/5.pdf', '/in/d/index.csv'],
    indexNames: ['index.csv', 'index.json'],
    required: true,
  })
  t.same(
    plan.batches.map((b) => [b.folder, b.index?.name ?? null, b.files.map((x) => x.name)]),
    [['/in/a', 'index.csv', ['1.pdf']]],
  )
  t.same(
    plan.held.map((h) => [h.path, h.reason]),
    [
      ['/in/b/2.pdf', 'WAITING_FOR_INDEX'],
      ['/in/c/3.pdf', 'NOT_READY'],
      ['/in/d/4.pdf', 'NOT_READY'],
    ],
  )
  const optional = planBatches({
    ready: [f('/in/b/2.pdf'), f('/in/e/6.pdf')],
    indexes: [f('/in/c/index.csv')],
    notReady: ['/in/e/7.pdf'],
    indexNames: ['index.csv'],
    required: false,
  })
  t.same(
    optional.batches.map((b) => [b.folder, b.index?.name ?? null, b.files.length]),
    [
      ['/in/b', null, 1],
      ['/in/e', null, 1],
      ['/in/c', 'index.csv', 0],
    ],
    'without an index a file being written does not hold its neighbours; an index alone is a batch',
  )
  t.same(optional.held, [])
})

t.test('withinFileLimit never splits a batch with an index', async (t) => {
  const batch = (folder: string, n: number, indexed: boolean) => ({
    folder,
    index: indexed ? f(`${folder}/index.csv`) : null,
    files: Array.from({ length: n }, (_, i) => f(`${folder}/${i}.pdf`)),
  })
  const taken = withinFileLimit([batch('/a', 3, false), batch('/b', 4, true), batch('/c', 2, true)], 6)
  t.same(
    taken.map((b) => [b.folder, b.files.length]),
    [
      ['/a', 3],
      ['/c', 2],
    ],
  )
  t.same(
    withinFileLimit([batch('/big', 9, true), batch('/a', 2, false)], 5).map((b) => [
      b.folder,
      b.files.length,
    ]),
    [['/big', 9]],
    'a batch larger than the limit is taken alone',
  )
})

t.test('the result csv: index order, then unindexed files; cells defused', async (t) => {
  t.equal(indexResultName('index.csv'), 'index.csv.result.csv')
  const csv = renderBatchResult([
    {
      file: 'z.pdf',
      row: null,
      state: 'failed',
      code: 'NOT_IN_INDEX',
      message: 'no row',
      sdriveFileId: null,
      recordId: null,
    },
    {
      file: 'b.pdf',
      row: 2,
      state: 'missing',
      code: 'FILE_MISSING',
      message: null,
      sdriveFileId: null,
      recordId: null,
    },
    {
      file: 'a.pdf',
      row: 1,
      state: 'done',
      code: null,
      message: '=1+1',
      sdriveFileId: 'a0X1',
      recordId: '01t1',
    },
  ])
  t.equal(
    csv,
    'file,row,state,code,message,sdriveFileId,recordId\r\n' +
      "a.pdf,1,done,,'=1+1,a0X1,01t1\r\n" +
      'b.pdf,2,missing,FILE_MISSING,,,\r\n' +
      'z.pdf,,failed,NOT_IN_INDEX,no row,,\r\n',
  )
})
