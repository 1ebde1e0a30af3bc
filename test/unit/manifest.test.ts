import t from 'tap'
import { type ManifestRow, renderManifest } from '../../src/domain/manifest.js'

const row = (overrides: Partial<ManifestRow> = {}): ManifestRow => ({
  recordId: '006000000000001AAA',
  fileId: 'a0B000000000001',
  fileName: 'contract.pdf',
  remotePath: '/out/ACME/contract.pdf',
  size: 1234,
  sha256: 'ab'.repeat(32),
  deliveredAt: '2024-05-01T12:00:00.000Z',
  correlationId: 'run_0123456789abcdef0123456789abcdef.a0B000000000001',
  fields: { Name: 'Big deal', 'Account.AccountNumber': 'A-1' },
  ...overrides,
})

/** RFC 4180 reader, enough to check a round trip. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let cells: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"'
        i++
      } else if (char === '"') quoted = false
      else cell += char
    } else if (char === '"') quoted = true
    else if (char === ',') {
      cells.push(cell)
      cell = ''
    } else if (char === '\r' && text[i + 1] === '\n') {
      cells.push(cell)
      rows.push(cells)
      cells = []
      cell = ''
      i++
    } else cell += char
  }
  return rows
}

t.test('CSV: header, one CRLF line per file, configured fields in order', async (t) => {
  const csv = renderManifest(
    'csv',
    [row(), row({ fileName: 'b.pdf', size: 0 })],
    ['Account.AccountNumber', 'Name'],
  )
  t.equal(
    csv,
    'recordId,fileId,fileName,remotePath,size,sha256,deliveredAt,correlationId,Account.AccountNumber,Name\r\n' +
      `006000000000001AAA,a0B000000000001,contract.pdf,/out/ACME/contract.pdf,1234,${'ab'.repeat(32)},2024-05-01T12:00:00.000Z,run_0123456789abcdef0123456789abcdef.a0B000000000001,A-1,Big deal\r\n` +
      `006000000000001AAA,a0B000000000001,b.pdf,/out/ACME/contract.pdf,0,${'ab'.repeat(32)},2024-05-01T12:00:00.000Z,run_0123456789abcdef0123456789abcdef.a0B000000000001,A-1,Big deal\r\n`,
  )
})

t.test('CSV: quotes doubled; commas, quotes, CR and LF quoted', async (t) => {
  const tricky = row({
    fileName: 'a,b "c".pdf',
    fields: { Name: 'line1\nline2', Note: 'cr\rhere', Plain: `O'Brien` },
  })
  const csv = renderManifest('csv', [tricky], ['Name', 'Note', 'Plain', 'Missing'])
  const line = csv.split('\r\n')[1] as string
  t.ok(line.includes('"a,b ""c"".pdf"'), line)
  t.ok(csv.includes('"line1\nline2"'))
  t.ok(csv.includes('"cr\rhere"'))
  t.ok(line.endsWith(`,O'Brien,`), 'a missing or null field is an empty cell')
  const parsed = parseCsv(csv)
  t.equal(parsed.length, 2)
  t.same(parsed[1]?.slice(8), ['line1\nline2', 'cr\rhere', `O'Brien`, ''])
  t.equal(parsed[1]?.[2], 'a,b "c".pdf')
})

t.test('CSV: cells a spreadsheet would run as a formula get a leading quote', async (t) => {
  const evil = ['=HYPERLINK("http://x")', '+1+1', '-2+3', '@SUM(A1)', '\tindent', '\rcr']
  const fields = Object.fromEntries(evil.map((value, i) => [`F${i}`, value]))
  const csv = renderManifest('csv', [row({ fileName: '=cmd|calc.pdf', fields })], Object.keys(fields))
  const parsed = parseCsv(csv)
  t.equal(parsed[1]?.[2], "'=cmd|calc.pdf")
  t.same(
    parsed[1]?.slice(8),
    evil.map((value) => `'${value}`),
  )
  t.ok(csv.includes(`"'=HYPERLINK(""http://x"")"`), 'defused and quoted')
  t.equal(parsed[1]?.[4], '1234', 'numbers stay numbers')
  t.ok(
    renderManifest('csv', [row({ fields: { Name: 'a=b' } })], ['Name']).includes(',a=b\r\n'),
    'only a leading sign counts',
  )
})

t.test('CSV: no rows is a header alone', async (t) => {
  t.equal(
    renderManifest('csv', [], []),
    'recordId,fileId,fileName,remotePath,size,sha256,deliveredAt,correlationId\r\n',
  )
})

t.test('JSON: files with configured fields, pretty-printed', async (t) => {
  const json = renderManifest('json', [row(), row({ fields: {} })], ['Name', 'Missing'])
  t.ok(json.startsWith('{\n  "files": [\n    {\n'), 'indented')
  t.ok(json.endsWith('}\n'))
  t.same(JSON.parse(json), {
    files: [
      {
        recordId: '006000000000001AAA',
        fileId: 'a0B000000000001',
        fileName: 'contract.pdf',
        remotePath: '/out/ACME/contract.pdf',
        size: 1234,
        sha256: 'ab'.repeat(32),
        deliveredAt: '2024-05-01T12:00:00.000Z',
        correlationId: 'run_0123456789abcdef0123456789abcdef.a0B000000000001',
        fields: { Name: 'Big deal', Missing: null },
      },
      {
        recordId: '006000000000001AAA',
        fileId: 'a0B000000000001',
        fileName: 'contract.pdf',
        remotePath: '/out/ACME/contract.pdf',
        size: 1234,
        sha256: 'ab'.repeat(32),
        deliveredAt: '2024-05-01T12:00:00.000Z',
        correlationId: 'run_0123456789abcdef0123456789abcdef.a0B000000000001',
        fields: { Name: null, Missing: null },
      },
    ],
  })
  const odd = renderManifest('json', [row({ fileName: '=x "y"\n.pdf' })], [])
  t.equal(JSON.parse(odd).files[0].fileName, '=x "y"\n.pdf', 'JSON keeps values exactly')
  t.same(JSON.parse(renderManifest('json', [], [])), { files: [] })
})
