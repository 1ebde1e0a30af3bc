import t from 'tap'
import type { StatusField, StatusFlow, StatusFormat } from '../../src/config/schema.js'
import { BridgeError } from '../../src/domain/errors.js'
import { toId18 } from '../../src/domain/record-ids.js'
import {
  type ParsedStatusFile,
  parseStatusFile,
  type RawRow,
  type RowOutcome,
  type RowSpec,
  renderErrorReport,
  rowSpecOf,
  type ValidatedRow,
  validateStatusRows,
} from '../../src/domain/status-file.js'

const utf8 = (text: string) => new TextEncoder().encode(text)

function format(type: StatusFormat['type'], overrides: Partial<StatusFormat> = {}): StatusFormat {
  return { type, encoding: 'utf8', delimiter: ',', recordsPath: '', maxBytes: 52_428_800, ...overrides }
}

type Parsed = Extract<ParsedStatusFile, { ok: true }>
type Failed = Extract<ParsedStatusFile, { ok: false }>

/** Parses and insists it worked, so tests can look at rows directly. */
function parsed(bytes: Uint8Array | string, fmt: StatusFormat): Parsed {
  const result = parseStatusFile(typeof bytes === 'string' ? utf8(bytes) : bytes, fmt)
  if (!result.ok) throw new Error(`expected a parsed file, got ${result.code}: ${result.message}`)
  return result
}

function failed(bytes: Uint8Array | string, fmt: StatusFormat): Failed {
  const result = parseStatusFile(typeof bytes === 'string' ? utf8(bytes) : bytes, fmt)
  if (result.ok) throw new Error(`expected a failure, got ${result.rows.length} rows`)
  return result
}

const ID_1 = toId18('001000000000001')
const ID_2 = toId18('001000000000002')
const ID_3 = '001000000000003'

// ---------------------------------------------------------------- encoding

t.test('encoding', async (t) => {
  t.test('utf8 with a BOM: the BOM is not part of the first column name', async (t) => {
    const file = parsed(
      new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('Id,Status\r\nA1,Délivré\r\n')]),
      format('csv'),
    )
    t.strictSame(file.columns, ['Id', 'Status'])
    t.strictSame(file.rows[0]?.values, { Id: 'A1', Status: 'Délivré' })
  })

  t.test(
    'utf8 config, latin1 bytes (é as 0xE9): STATUS_FILE_ENCODING naming the encoding and offset',
    async (t) => {
      const bytes = new Uint8Array([...utf8('Id,Status\nA1,D'), 0xe9, ...utf8('livr\n')])
      const result = failed(bytes, format('csv'))
      t.equal(result.code, 'STATUS_FILE_ENCODING')
      t.match(result.message, /utf8/)
      t.match(result.message, /invalid byte 0xE9 at byte offset 14 \(line 2\)/)
      t.match(result.message, /latin1/)
    },
  )

  t.test('utf8: a truncated multi-byte sequence at the end is found', async (t) => {
    const result = failed(new Uint8Array([...utf8('Id\nab'), 0xc3]), format('csv'))
    t.equal(result.code, 'STATUS_FILE_ENCODING')
    t.match(result.message, /0xC3 at byte offset 5/)
  })

  t.test('utf8: overlong encodings and surrogates are invalid', async (t) => {
    t.match(failed(new Uint8Array([0x41, 0xc0, 0xaf]), format('csv')).message, /0xC0 at byte offset 1/)
    t.match(failed(new Uint8Array([0x41, 0xed, 0xa0, 0x80]), format('csv')).message, /0xED at byte offset 1/)
  })

  t.test(
    'utf8: four-byte characters are fine; out-of-range lead and continuation bytes are not',
    async (t) => {
      t.strictSame(parsed('Id,Note\nA1,ok 😀\n', format('csv')).rows[0]?.values, { Id: 'A1', Note: 'ok 😀' })
      const at = (bytes: number[]) => failed(new Uint8Array([0x41, ...bytes]), format('csv')).message
      t.match(at([0xf5, 0x80, 0x80, 0x80]), /0xF5 at byte offset 1/)
      t.match(at([0xf4, 0x90, 0x80, 0x80]), /0xF4 at byte offset 1/)
      t.match(at([0xf0, 0x80, 0x80, 0x80]), /0xF0 at byte offset 1/)
      t.match(at([0xe0, 0x80, 0x80]), /0xE0 at byte offset 1/)
      t.match(at([0x80]), /0x80 at byte offset 1/)
      t.match(at([0xf0, 0x9f, 0x98, 0x80, 0xe2, 0x82]), /0xE2 at byte offset 5/)
    },
  )

  t.test('utf8: a NUL byte is an encoding error (UTF-16 sent as UTF-8)', async (t) => {
    const bytes = new Uint8Array([0x49, 0x00, 0x64, 0x00, 0x0a, 0x00])
    const result = failed(bytes, format('csv'))
    t.equal(result.code, 'STATUS_FILE_ENCODING')
    t.match(result.message, /NUL byte at byte offset 1/)
    t.match(result.message, /utf16le/)
  })

  t.test('utf8 config, UTF-16 BOM: encoding error that says which encoding to set', async (t) => {
    const bytes = new Uint8Array([0xff, 0xfe, 0x49, 0x00, 0x64, 0x00])
    const result = failed(bytes, format('csv'))
    t.equal(result.code, 'STATUS_FILE_ENCODING')
    t.match(result.message, /UTF-16 byte order mark.*utf16le/)
  })

  t.test('utf16le with a BOM', async (t) => {
    const text = 'Id;Status\r\nA1;Délivré €\r\n'
    const bytes = new Uint8Array(2 + text.length * 2)
    bytes.set([0xff, 0xfe])
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i)
      bytes[2 + 2 * i] = unit & 0xff
      bytes[3 + 2 * i] = unit >> 8
    }
    const file = parsed(bytes, format('csv', { encoding: 'utf16le', delimiter: ';' }))
    t.strictSame(file.columns, ['Id', 'Status'])
    t.strictSame(file.rows[0]?.values, { Id: 'A1', Status: 'Délivré €' })
  })

  t.test('utf16le without a BOM decodes too', async (t) => {
    const bytes = new Uint8Array([0x5b, 0x00, 0x5d, 0x00])
    t.strictSame(parsed(bytes, format('json', { encoding: 'utf16le' })).rows, [])
  })

  t.test('utf16le config, utf8 BOM: encoding error', async (t) => {
    const result = failed(
      new Uint8Array([0xef, 0xbb, 0xbf, 0x49, 0x64]),
      format('csv', { encoding: 'utf16le' }),
    )
    t.equal(result.code, 'STATUS_FILE_ENCODING')
    t.match(result.message, /utf16le.*UTF-8 byte order mark/)
  })

  t.test('utf16le: odd length, big-endian BOM, lone surrogate', async (t) => {
    const fmt = format('csv', { encoding: 'utf16le' })
    t.match(failed(new Uint8Array([0x49, 0x00, 0x64]), fmt).message, /odd number of bytes \(3\)/)
    t.match(failed(new Uint8Array([0xfe, 0xff, 0x00, 0x49]), fmt).message, /big-endian/)
    const lone = failed(new Uint8Array([0xff, 0xfe, 0x49, 0x00, 0x00, 0xd8, 0x64, 0x00]), fmt)
    t.equal(lone.code, 'STATUS_FILE_ENCODING')
    t.match(lone.message, /utf16le: unpaired surrogate 0xD800 at byte offset 4/)
  })

  t.test(
    'utf16le: lone low surrogate, high surrogate at the end or before a non-surrogate, NUL',
    async (t) => {
      const fmt = format('csv', { encoding: 'utf16le' })
      t.match(
        failed(new Uint8Array([0x49, 0x00, 0x00, 0xdc]), fmt).message,
        /unpaired surrogate 0xDC00 at byte offset 2/,
      )
      t.match(
        failed(new Uint8Array([0x49, 0x00, 0x3d, 0xd8]), fmt).message,
        /unpaired surrogate 0xD83D at byte offset 2/,
      )
      t.match(
        failed(new Uint8Array([0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8, 0x41, 0x00]), fmt).message,
        /0xD800 at byte offset 4/,
      )
      const nul = failed(new Uint8Array([0x49, 0x00, 0x00, 0x00, 0x64, 0x00]), fmt)
      t.equal(nul.code, 'STATUS_FILE_ENCODING')
      t.match(nul.message, /utf16le text: NUL character at byte offset 2/)
    },
  )

  t.test('latin1 always decodes, as windows-1252', async (t) => {
    const bytes = new Uint8Array([...utf8('Id,Status\nA1,D'), 0xe9, ...utf8('livr'), 0xe9, 0x20, 0x80, 0x0a])
    const file = parsed(bytes, format('csv', { encoding: 'latin1' }))
    t.strictSame(file.rows[0]?.values, { Id: 'A1', Status: 'Délivré €' })
  })
})

// ---------------------------------------------------------------- CSV

t.test('CSV', async (t) => {
  t.test('header trimmed, cells kept as text, rows numbered from 1 with their source lines', async (t) => {
    const file = parsed(' Id , Amount__c ,Status__c\r\nA1,1234.50,Shipped\r\nA2, 7 ,\r\n', format('csv'))
    t.strictSame(file.columns, ['Id', 'Amount__c', 'Status__c'])
    t.strictSame(file.rows, [
      { index: 1, line: 2, values: { Id: 'A1', Amount__c: '1234.50', Status__c: 'Shipped' } },
      { index: 2, line: 3, values: { Id: 'A2', Amount__c: ' 7 ', Status__c: '' } },
    ])
  })

  t.test('";" delimiter, RFC 4180 quotes, doubled quotes, embedded newlines and delimiters', async (t) => {
    const text =
      'Id;Note;Status\n' +
      'A1;"He said ""ok""; then left";Done\n' +
      'A2;"line one\r\nline two\nline three";Open\n' +
      'A3;plain;"Closed"\n'
    const file = parsed(text, format('csv', { delimiter: ';' }))
    t.strictSame(
      file.rows.map((row) => row.values),
      [
        { Id: 'A1', Note: 'He said "ok"; then left', Status: 'Done' },
        { Id: 'A2', Note: 'line one\r\nline two\nline three', Status: 'Open' },
        { Id: 'A3', Note: 'plain', Status: 'Closed' },
      ],
    )
    // A3 starts on line 6: the quoted cell of A2 spans lines 3–5.
    t.strictSame(
      file.rows.map((row) => row.line),
      [2, 3, 6],
    )
  })

  t.test('the delimiter is the configured one: "," inside a ";" file is data', async (t) => {
    const file = parsed('Id;Amount\nA1;1,5\n', format('csv', { delimiter: ';' }))
    t.strictSame(file.rows[0]?.values, { Id: 'A1', Amount: '1,5' })
  })

  t.test('empty lines and blank lines are skipped and do not count as rows', async (t) => {
    const file = parsed('\r\nId,Status\r\n\r\nA1,Done\r\n,\r\n  \r\n\r\nA2,Open\r\n,\r\n', format('csv'))
    t.strictSame(
      file.rows.map((row) => [row.index, row.line, row.values.Id]),
      [
        [1, 4, 'A1'],
        [2, 8, 'A2'],
      ],
    )
  })

  t.test('#N/A means null; an empty cell stays empty text (unchanged)', async (t) => {
    const file = parsed('Id,A,B,C\nA1,#N/A,, #N/A \n', format('csv'))
    t.strictSame(file.rows[0]?.values, { Id: 'A1', A: null, B: '', C: null })
  })

  t.test('a row with another column count: STATUS_FILE_UNPARSEABLE naming the line', async (t) => {
    const more = failed('Id,Status\nA1,Done\nA2,Open,extra\n', format('csv'))
    t.equal(more.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(more.message, /CSV line 3: 3 columns, but the header has 2/)
    const fewer = failed('Id,Status\n"A\n1",Done\nA2\n', format('csv'))
    t.match(fewer.message, /CSV line 4: 1 column, but the header has 2/)
  })

  t.test('a wrong delimiter shows as a column count problem on the first row', async (t) => {
    const result = failed('Id;Status\nA1;Done\n"A;2";Open;x\n', format('csv', { delimiter: ',' }))
    t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(result.message, /line 3/)
  })

  t.test('duplicate header names (after trimming) are named', async (t) => {
    const result = failed('Id,Status, Status ,Note,Note\nA1,a,b,c,d\n', format('csv'))
    t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(result.message, /duplicate column "Status", "Note"/)
  })

  t.test('empty header names are named by position', async (t) => {
    const result = failed('Id,,Status, \nA1,a,b,c\n', format('csv'))
    t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(result.message, /column 2, 4 have no name/)
  })

  t.test('header only: ok, no rows', async (t) => {
    const file = parsed('Id,Status\r\n', format('csv'))
    t.strictSame(file, { ok: true, rows: [], columns: ['Id', 'Status'] })
  })

  t.test('an empty file has no header: unparseable', async (t) => {
    t.match(failed('', format('csv')).message, /empty; a header row is required/)
    t.match(failed('\r\n\r\n', format('csv')).message, /header row is required/)
  })

  t.test('an unclosed quote is unparseable', async (t) => {
    const result = failed('Id,Note\nA1,"never closed\n', format('csv'))
    t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(result.message, /^CSV: Quote Not Closed/)
  })

  t.test('a column named like an Object.prototype member is an ordinary column', async (t) => {
    const file = parsed('Id,constructor,__proto__\nA1,x,y\n', format('csv'))
    const values = file.rows[0]?.values ?? {}
    t.equal(values.constructor, 'x')
    t.ok(Object.hasOwn(values, '__proto__'))
    t.equal(Object.getPrototypeOf(values), Object.prototype)
  })

  t.test('500 data rows parse into 500 rows', async (t) => {
    const lines = ['Id,Status__c,Amount__c']
    for (let i = 1; i <= 500; i++) lines.push(`ERP-${i},"Shipped, part ${i}",${i}.25`)
    const file = parsed(`${lines.join('\r\n')}\r\n`, format('csv'))
    t.equal(file.rows.length, 500)
    t.strictSame(file.rows[499], {
      index: 500,
      line: 501,
      values: { Id: 'ERP-500', Status__c: 'Shipped, part 500', Amount__c: '500.25' },
    })
    t.ok(file.rows.every((row, i) => row.index === i + 1 && row.values.Id === `ERP-${i + 1}`))
  })
})

// ---------------------------------------------------------------- JSON

t.test('JSON', async (t) => {
  const rowsJson = '[{"Id":"A1","Amount":12.5,"Paid":true,"Note":null},{"Id":"A2","Extra":"x"}]'

  t.test(
    'a bare array: numbers, booleans and null kept; missing keys absent; columns in first-seen order',
    async (t) => {
      const file = parsed(rowsJson, format('json'))
      t.strictSame(file.rows, [
        { index: 1, line: null, values: { Id: 'A1', Amount: 12.5, Paid: true, Note: null } },
        { index: 2, line: null, values: { Id: 'A2', Extra: 'x' } },
      ])
      t.strictSame(file.columns, ['Id', 'Amount', 'Paid', 'Note', 'Extra'])
    },
  )

  t.test('an object with a single array property is read as the rows', async (t) => {
    const file = parsed(`{"statuses": ${rowsJson}}`, format('json'))
    t.equal(file.rows.length, 2)
    t.equal(file.rows[1]?.values.Id, 'A2')
  })

  t.test('recordsPath: a dotted path to the array', async (t) => {
    const file = parsed(
      `{"meta":{"count":2},"data":{"items":${rowsJson},"next":null}}`,
      format('json', { recordsPath: 'data.items' }),
    )
    t.strictSame(
      file.rows.map((row) => row.values.Id),
      ['A1', 'A2'],
    )
  })

  t.test('recordsPath that leads nowhere, or not to an array', async (t) => {
    const document = '{"data":{"items":{"Id":"A1"}}}'
    t.match(
      failed(document, format('json', { recordsPath: 'data.rows' })).message,
      /recordsPath "data.rows": no "data.rows"/,
    )
    t.match(
      failed(document, format('json', { recordsPath: 'data.items' })).message,
      /expected an array of rows, found an object/,
    )
  })

  t.test(
    '"" and an object that is not a single array property: unparseable, says to set recordsPath',
    async (t) => {
      const result = failed('{"meta":{},"rows":[]}', format('json'))
      t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
      t.match(result.message, /2 properties \(set format.recordsPath\)/)
      t.match(failed('"text"', format('json')).message, /found a string/)
    },
  )

  t.test('an empty array: ok, no rows', async (t) => {
    t.strictSame(parsed(' [ ] ', format('json')), { ok: true, rows: [], columns: [] })
  })

  t.test('malformed JSON: unparseable with the position as line and column', async (t) => {
    const result = failed('[\n  {"Id": "A1"},\n  {"Id": "A2"\n]', format('json'))
    t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(result.message, /^JSON: /)
    t.match(result.message, /\(line 4, column 1\)/)
    t.match(failed('', format('json')).message, /empty/)
  })

  t.test('a nested value makes the file unparseable, naming the row and key', async (t) => {
    const result = failed('[{"Id":"A1"},{"Id":"A2","Address":{"City":"Paris"}}]', format('json'))
    t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(result.message, /JSON row 2, key "Address": an object is not allowed; rows must be flat/)
    t.match(failed('[{"Id":"A1","Tags":["a"]}]', format('json')).message, /row 1, key "Tags": an array/)
  })

  t.test('a row that is not an object', async (t) => {
    t.match(
      failed('[{"Id":"A1"}, 42]', format('json')).message,
      /JSON row 2: expected an object, found a number/,
    )
    t.match(failed('[null]', format('json')).message, /JSON row 1: expected an object, found null/)
  })
})

// ---------------------------------------------------------------- XML

t.test('XML', async (t) => {
  t.test(
    'elements and attributes are columns; values stay text; nil is null; empty is unchanged',
    async (t) => {
      const xml = `<?xml version="1.0" encoding="UTF-8"?>
<statuses xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <!-- exported by the ERP -->
  <status id="A1" xsi:type="x">
    <Amount__c>000123.50</Amount__c>
    <Status__c>Shipped &amp; billed &#233;&#x20AC;</Status__c>
    <Note__c xsi:nil="true"/>
    <Carrier__c></Carrier__c>
    <Ref><![CDATA[<b>&amp;</b>]]></Ref>
  </status>
  <status id="A2"><Status__c nil="true"/></status>
</statuses>`
      const file = parsed(xml, format('xml', { recordsPath: 'statuses.status' }))
      t.strictSame(file.rows, [
        {
          index: 1,
          line: null,
          values: {
            id: 'A1',
            Amount__c: '000123.50',
            Status__c: 'Shipped & billed é€',
            Note__c: null,
            Carrier__c: '',
            Ref: '<b>&amp;</b>',
          },
        },
        { index: 2, line: null, values: { id: 'A2', Status__c: null } },
      ])
      t.strictSame(file.columns, ['id', 'Amount__c', 'Status__c', 'Note__c', 'Carrier__c', 'Ref'])
    },
  )

  t.test('a single row element still gives one row (with and without recordsPath)', async (t) => {
    const xml = '<statuses><status><Id>A1</Id><Status__c>Done</Status__c></status></statuses>'
    for (const recordsPath of ['statuses.status', '']) {
      const file = parsed(xml, format('xml', { recordsPath }))
      t.strictSame(
        file.rows,
        [{ index: 1, line: null, values: { Id: 'A1', Status__c: 'Done' } }],
        recordsPath,
      )
    }
  })

  t.test('"" picks the root\'s only repeated child', async (t) => {
    const xml = '<export><generated>2024-05-01</generated><row Id="A1"/><row Id="A2"/></export>'
    t.strictSame(
      parsed(xml, format('xml')).rows.map((row) => row.values.Id),
      ['A1', 'A2'],
    )
    const ambiguous = failed('<export><header/><row Id="A1"/></export>', format('xml'))
    t.match(ambiguous.message, /cannot tell the row element.*<header>, <row>.*recordsPath/)
  })

  t.test('deeper recordsPath, namespace prefixes ignored in names', async (t) => {
    const xml =
      '<ns:doc xmlns:ns="urn:erp"><ns:body><ns:item><ns:Id>A1</ns:Id></ns:item>' +
      '<ns:item><ns:Id>A2</ns:Id></ns:item></ns:body></ns:doc>'
    const file = parsed(xml, format('xml', { recordsPath: 'doc.body.item' }))
    t.strictSame(
      file.rows.map((row) => row.values),
      [{ Id: 'A1' }, { Id: 'A2' }],
    )
  })

  t.test('no rows: ok when empty, unparseable when the path is a typo', async (t) => {
    t.strictSame(parsed('<statuses/>', format('xml', { recordsPath: 'statuses.status' })).rows, [])
    const typo = failed('<statuses><Status/></statuses>', format('xml', { recordsPath: 'statuses.status' }))
    t.match(typo.message, /recordsPath "statuses.status": no such element \(found <Status>\)/)
    const root = failed('<rows><status/></rows>', format('xml', { recordsPath: 'statuses.status' }))
    t.match(root.message, /starts at <statuses>, but the root element is <rows>/)
  })

  t.test('DOCTYPE and ENTITY declarations are refused', async (t) => {
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>' +
      '<statuses><status><Id>&lol2;</Id></status></statuses>'
    const result = failed(bomb, format('xml'))
    t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(result.message, /DTDs are not accepted/)
    t.match(
      failed('<!doctype x SYSTEM "file:///etc/passwd"><x/>', format('xml')).message,
      /DTDs are not accepted/,
    )
  })

  t.test('malformed XML: unparseable naming the line', async (t) => {
    const result = failed('<statuses>\n  <status>\n    <Id>A1</Idd>\n  </status>\n</statuses>', format('xml'))
    t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(result.message, /^XML line 3, column \d+: /)
    t.match(failed('<a/><b/>', format('xml')).message, /one root element, found 2/)
    t.match(failed('<s><r><A>&nbsp;</A></r></s>', format('xml')).message, /undeclared entity &nbsp;/)
  })

  t.test('entity and character reference errors', async (t) => {
    t.match(
      failed('<s><r A="&#0;"/></s>', format('xml')).message,
      /character reference &#0; is not an XML character/,
    )
  })

  t.test('nil="1" is null too; other nil values are text', async (t) => {
    const file = parsed('<s><r><A xsi:nil="1"/><B nil="false">x</B></r></s>', format('xml'))
    t.strictSame(file.rows[0]?.values, { A: null, B: 'x' })
  })

  t.test('an element and an attribute of the same name: unparseable', async (t) => {
    const result = failed('<s><r Id="A1"><Id>A2</Id></r></s>', format('xml'))
    t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(result.message, /row 1 \(<r>\): "Id" is both an attribute and an element/)
  })

  t.test(
    'nested elements, repeated columns, stray text and attributes on columns: unparseable',
    async (t) => {
      t.match(
        failed('<s><r><Id>A1</Id></r><r><Addr><City>X</City></Addr></r></s>', format('xml')).message,
        /row 2 \(<r>\): <Addr> has child elements; rows must be flat/,
      )
      t.match(
        failed('<s><r><Id>A1</Id><Id>A2</Id></r></s>', format('xml')).message,
        /<Id> appears more than once/,
      )
      t.match(failed('<s><r>loose<Id>A1</Id></r></s>', format('xml')).message, /text "loose" outside/)
      t.match(
        failed('<s><r><Amount currency="EUR">12</Amount></r></s>', format('xml')).message,
        /<Amount> has attribute currency/,
      )
    },
  )
})

// ---------------------------------------------------------------- rowSpecOf

function statusFlow(overrides: Partial<StatusFlow> = {}): StatusFlow {
  return {
    name: 'erp-status',
    kind: 'status',
    source: { endpoint: 'erp', directory: '/status', include: ['*.csv'], exclude: [], recursive: false },
    format: format('csv'),
    object: 'Order__c',
    key: { column: 'OrderNo', by: 'externalId', field: 'ERP_Number__c' },
    fields: {
      Status__c: { type: 'picklist', values: ['Shipped', 'Open'] },
      Amount__c: { column: 'Amount', type: 'number' },
    },
    ignoreColumns: ['Comment'],
    document: { column: 'File', fileObject: 'Order_File__c', parentField: 'Order__c' },
    after: { success: 'move', errorDirectory: '/status/errors' },
    retry: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 },
    maxFilesPerRun: 1000,
    ...overrides,
  }
}

t.test('rowSpecOf', async (t) => {
  t.test('takes the key, fields, document column and ignored columns', async (t) => {
    t.strictSame(rowSpecOf(statusFlow()), {
      keyColumn: 'OrderNo',
      keyBy: 'externalId',
      fields: {
        Status__c: { type: 'picklist', values: ['Shipped', 'Open'] },
        Amount__c: { column: 'Amount', type: 'number' },
      },
      documentColumn: 'File',
      ignoreColumns: ['Comment'],
    })
    t.equal(rowSpecOf(statusFlow({ document: undefined })).documentColumn, null)
  })

  t.test('contradictory configuration: CONFIG_INVALID', async (t) => {
    const cases: [Partial<StatusFlow>, RegExp][] = [
      [{ fields: { Status__c: { type: 'picklist' } } }, /picklist without values/],
      [{ ignoreColumns: ['Amount'] }, /"Amount" is field Amount__c's column and in ignoreColumns/],
      [{ ignoreColumns: ['OrderNo'] }, /"OrderNo" is the key column and in ignoreColumns/],
      [
        { fields: { File__c: { column: 'File', type: 'string' } } },
        /both the document column and field File__c/,
      ],
      [
        { document: { column: 'OrderNo', fileObject: 'F__c', parentField: 'P__c' } },
        /both the key and the document column/,
      ],
    ]
    for (const [overrides, message] of cases) {
      t.throws(() => rowSpecOf(statusFlow(overrides)), { code: 'CONFIG_INVALID', message }, String(message))
    }
    t.type(
      (() => {
        try {
          rowSpecOf(statusFlow({ ignoreColumns: ['File'] }))
        } catch (error) {
          return error
        }
      })(),
      BridgeError,
    )
  })
})

// ---------------------------------------------------------------- validateStatusRows

function spec(overrides: Partial<RowSpec> = {}): RowSpec {
  return {
    keyColumn: 'Id',
    keyBy: 'id',
    fields: { Status__c: { type: 'string' } },
    documentColumn: null,
    ignoreColumns: [],
    ...overrides,
  }
}

function row(index: number, values: RawRow['values'], line: number | null = null): RawRow {
  return { index, line, values }
}

function rejection(result: ValidatedRow | undefined): Extract<ValidatedRow, { ok: false }> {
  if (result === undefined || result.ok)
    throw new Error(`expected a rejected row, got ${JSON.stringify(result)}`)
  return result
}

function accepted(result: ValidatedRow | undefined): Extract<ValidatedRow, { ok: true }> {
  if (result === undefined || !result.ok)
    throw new Error(`expected an accepted row, got ${JSON.stringify(result)}`)
  return result
}

/** Validates one value of one field and returns the outcome. */
function one(field: StatusField, value: RawRow['values'][string]): ValidatedRow {
  return validateStatusRows(
    [row(1, { Id: ID_1, F__c: value })],
    spec({ fields: { F__c: field } }),
  )[0] as ValidatedRow
}

t.test('validateStatusRows', async (t) => {
  t.test('an accepted row: key, fields by API name, document', async (t) => {
    const result = validateStatusRows(
      [
        row(
          1,
          { OrderNo: ' ERP-1 ', Amount: '1234.50', Status__c: 'Shipped', File: ' pod.pdf ', Comment: 'hi' },
          2,
        ),
      ],
      spec({
        keyColumn: 'OrderNo',
        keyBy: 'externalId',
        fields: { Amount__c: { column: 'Amount', type: 'number' }, Status__c: { type: 'string' } },
        documentColumn: 'File',
        ignoreColumns: ['Comment'],
      }),
    )
    t.strictSame(result, [
      {
        index: 1,
        ok: true,
        key: 'ERP-1',
        fields: { Amount__c: 1234.5, Status__c: 'Shipped' },
        document: 'pod.pdf',
      },
    ])
  })

  t.test('unchanged (absent, empty, blank) is left out; null clears', async (t) => {
    const result = validateStatusRows(
      [row(1, { Id: ID_1, A__c: '', B__c: '  ', C__c: null, D__c: 'x' })],
      spec({
        fields: {
          A__c: { type: 'string' },
          B__c: { type: 'number' },
          C__c: { type: 'date' },
          D__c: { type: 'string' },
          E__c: { type: 'string' },
        },
      }),
    )
    t.strictSame(accepted(result[0]).fields, { C__c: null, D__c: 'x' })
  })

  t.test('MISSING_KEY: no key column, empty key, null key', async (t) => {
    const rows = [row(1, { Status__c: 'x' }), row(2, { Id: ' ', Status__c: 'x' }, 3), row(3, { Id: null })]
    const [a, b, c] = validateStatusRows(rows, spec()).map(rejection)
    t.match(a, {
      code: 'MISSING_KEY',
      key: null,
      field: 'Id',
      message: 'row 1: no column Id (the key naming the record)',
    })
    t.match(b, {
      code: 'MISSING_KEY',
      message: 'row 2 (line 3), column Id: empty; the key naming the record is required',
    })
    t.match(c, { code: 'MISSING_KEY' })
  })

  t.test('MISSING_KEY comes first: a keyless row with bad values is reported as keyless', async (t) => {
    const [result] = validateStatusRows([row(1, { Id: '', Status__c: 'x', Other: 'y' })], spec())
    t.equal(rejection(result).code, 'MISSING_KEY')
  })

  t.test('INVALID_KEY per key kind', async (t) => {
    const byId = validateStatusRows(
      [
        row(1, { Id: '001000000000001AAX', Status__c: 'x' }),
        row(2, { Id: 'not-an-id', Status__c: 'x' }),
        row(3, { Id: ID_3, Status__c: 'x' }),
      ],
      spec(),
    )
    t.match(rejection(byId[0]), {
      code: 'INVALID_KEY',
      key: '001000000000001AAX',
      field: 'Id',
      message: 'row 1, column Id: "001000000000001AAX" is not a 15- or 18-character Salesforce id',
    })
    t.equal(rejection(byId[1]).code, 'INVALID_KEY')
    t.equal(accepted(byId[2]).key, ID_3)

    const external = spec({ keyColumn: 'No', keyBy: 'externalId' })
    const long = validateStatusRows([row(1, { No: 'x'.repeat(256), Status__c: 'x' })], external)
    t.match(rejection(long[0]), { code: 'INVALID_KEY', message: /longer than 255 characters/ })
    t.equal(
      accepted(validateStatusRows([row(1, { No: 'x'.repeat(255), Status__c: 'x' })], external)[0]).key.length,
      255,
    )
    t.match(rejection(validateStatusRows([row(1, { No: 'a\tb', Status__c: 'x' })], external)[0]), {
      code: 'INVALID_KEY',
      message: /control characters/,
    })
    t.equal(accepted(validateStatusRows([row(1, { No: 12345, Status__c: 'x' })], external)[0]).key, '12345')
    t.equal(
      rejection(validateStatusRows([row(1, { No: true, Status__c: 'x' })], external)[0]).code,
      'INVALID_KEY',
    )

    const correlation = spec({ keyColumn: 'Ref', keyBy: 'correlationId' })
    const refs = validateStatusRows(
      [
        row(1, { Ref: 'rv-0a1b2c3d4e', Status__c: 'x' }),
        row(2, { Ref: 'rv-0A1B2C3D4E', Status__c: 'x' }),
        row(3, { Ref: 'rv-0a1b2c3d4', Status__c: 'x' }),
        row(4, { Ref: 'run_0123456789abcdef0123456789abcdef.a0B000000000001AAA', Status__c: 'x' }),
        row(5, { Ref: 'run_0123.a0B000000000001AAA', Status__c: 'x' }),
      ],
      correlation,
    )
    t.equal(accepted(refs[0]).key, 'rv-0a1b2c3d4e')
    t.match(rejection(refs[1]), { code: 'INVALID_KEY', message: /not a correlation id/ })
    t.equal(rejection(refs[2]).code, 'INVALID_KEY')
    t.equal(
      accepted(refs[3]).key,
      'run_0123456789abcdef0123456789abcdef.a0B000000000001AAA',
      'an exported file',
    )
    t.equal(rejection(refs[4]).code, 'INVALID_KEY')
  })

  t.test('DUPLICATE_KEY names the first row; ids compare on 15 characters', async (t) => {
    const result = validateStatusRows(
      [
        row(1, { Id: ID_1, Status__c: 'a' }),
        row(2, { Id: ID_2, Status__c: 'b' }),
        row(3, { Id: ID_1.slice(0, 15), Status__c: 'c' }, 9),
        row(4, { Id: ID_1, Status__c: 'd' }),
      ],
      spec(),
    )
    t.ok(result[0]?.ok)
    t.ok(result[1]?.ok)
    t.match(rejection(result[2]), {
      code: 'DUPLICATE_KEY',
      key: ID_1.slice(0, 15),
      field: 'Id',
      message: `row 3 (line 9), column Id: "${ID_1.slice(0, 15)}" is also on row 1; a record may appear once per file`,
    })
    t.match(rejection(result[3]), { code: 'DUPLICATE_KEY', message: /also on row 1/ })
  })

  t.test(
    'DUPLICATE_KEY: external ids ignore case; the first row claims the key even if rejected later',
    async (t) => {
      const result = validateStatusRows(
        [row(1, { No: 'erp-1', Status__c: 'a', Bad: 'x' }), row(2, { No: 'ERP-1', Status__c: 'b' })],
        spec({ keyColumn: 'No', keyBy: 'externalId' }),
      )
      t.equal(rejection(result[0]).code, 'FIELD_NOT_ALLOWED')
      t.match(rejection(result[1]), {
        code: 'DUPLICATE_KEY',
        message: /also on row 1 \(external ids are compared ignoring case\)/,
      })
    },
  )

  t.test('FIELD_NOT_ALLOWED: a column with a value that is no field rejects the whole row', async (t) => {
    const result = validateStatusRows(
      [
        row(1, { Id: ID_1, Status__c: 'Done', OwnerId: '005000000000001' }, 2),
        row(2, { Id: ID_2, Status__c: 'Done', OwnerId: '' }),
        row(3, { Id: ID_3, Status__c: 'Done', OwnerId: null }),
        row(4, { Id: toId18('001000000000004'), Status__c: 'Done', Comment: 'skip me' }),
      ],
      spec({ ignoreColumns: ['Comment'] }),
    )
    t.match(rejection(result[0]), {
      code: 'FIELD_NOT_ALLOWED',
      key: ID_1,
      field: 'OwnerId',
      message:
        'row 1 (line 2), column OwnerId: not a field this flow may set; nothing of the row was applied',
    })
    // An empty cell in an unknown column sets nothing, so it is harmless.
    t.strictSame(accepted(result[1]).fields, { Status__c: 'Done' })
    // #N/A (null) in an unknown column would clear something: refused.
    t.equal(rejection(result[2]).code, 'FIELD_NOT_ALLOWED')
    t.strictSame(accepted(result[3]).fields, { Status__c: 'Done' })
  })

  t.test(
    'FIELD_NOT_ALLOWED: a field read from another column does not allow its API name as a column',
    async (t) => {
      const result = validateStatusRows(
        [row(1, { Id: ID_1, Amount: '1', Amount__c: '2' })],
        spec({ fields: { Amount__c: { column: 'Amount', type: 'number' } } }),
      )
      t.match(rejection(result[0]), { code: 'FIELD_NOT_ALLOWED', field: 'Amount__c' })
    },
  )

  t.test('INVALID_FIELD_VALUE names row, column, field and the bad value', async (t) => {
    const [bad] = validateStatusRows(
      [row(17, { Id: ID_1, Amount__c: '12abc' })],
      spec({ fields: { Amount__c: { type: 'number' } } }),
    )
    t.match(rejection(bad), {
      code: 'INVALID_FIELD_VALUE',
      key: ID_1,
      field: 'Amount__c',
      message: /^row 17, column Amount__c: "12abc" is not a number/,
    })
    const [mapped] = validateStatusRows(
      [row(3, { Id: ID_1, Amount: '1,234' }, 4)],
      spec({ fields: { Amount__c: { column: 'Amount', type: 'number' } } }),
    )
    t.match(
      rejection(mapped).message,
      /^row 3 \(line 4\), column Amount \(field Amount__c\): "1,234" is not a number/,
    )
  })

  t.test('the bad value in a message is cut to 100 characters', async (t) => {
    const message = rejection(one({ type: 'integer' }, 'x'.repeat(500))).message
    t.match(message, `"${'x'.repeat(100)}…" is not a whole number`)
    t.notMatch(message, 'x'.repeat(101))
  })

  t.test('one bad field rejects the row even when other fields are fine', async (t) => {
    const [result] = validateStatusRows(
      [row(1, { Id: ID_1, Status__c: 'ok', N__c: 'no' })],
      spec({ fields: { Status__c: { type: 'string' }, N__c: { type: 'integer' } } }),
    )
    t.match(rejection(result), { code: 'INVALID_FIELD_VALUE', field: 'N__c' })
  })

  t.test('string: kept as is, maxLength counted, numbers and booleans as text', async (t) => {
    t.equal(accepted(one({ type: 'string' }, '  padded  ')).fields.F__c, '  padded  ')
    t.equal(accepted(one({ type: 'string', maxLength: 5 }, 'abcde')).fields.F__c, 'abcde')
    t.match(
      rejection(one({ type: 'string', maxLength: 5 }, 'abcdef')).message,
      /is 6 characters long, more than the 5 allowed/,
    )
    t.equal(accepted(one({ type: 'string' }, 42)).fields.F__c, '42')
    t.equal(accepted(one({ type: 'string' }, false)).fields.F__c, 'false')
  })

  t.test('number: finite decimals only', async (t) => {
    const ok: [RawRow['values'][string], number][] = [
      ['1234.50', 1234.5],
      [' -3 ', -3],
      ['+0.25', 0.25],
      ['.5', 0.5],
      [12.75, 12.75],
    ]
    for (const [value, expected] of ok)
      t.equal(accepted(one({ type: 'number' }, value)).fields.F__c, expected, String(value))
    for (const value of ['1,234', '12abc', '1e5', 'NaN', 'Infinity', '1.', '--1', '0x10', true]) {
      t.match(rejection(one({ type: 'number' }, value)), { code: 'INVALID_FIELD_VALUE' }, String(value))
    }
  })

  t.test('integer: whole, safe numbers', async (t) => {
    t.equal(accepted(one({ type: 'integer' }, '0042')).fields.F__c, 42)
    t.equal(accepted(one({ type: 'integer' }, '-7')).fields.F__c, -7)
    t.equal(accepted(one({ type: 'integer' }, 9)).fields.F__c, 9)
    for (const value of ['4.0', '4.5', '1 000', '99999999999999999999', 4.5, '']) {
      const result = one({ type: 'integer' }, value)
      if (value === '') t.equal(rejection(result).code, 'NOTHING_TO_APPLY')
      else
        t.match(
          rejection(result),
          { code: 'INVALID_FIELD_VALUE', message: /is not a whole number/ },
          String(value),
        )
    }
  })

  t.test('boolean: true/false/1/0/yes/no in any case', async (t) => {
    const cases: [RawRow['values'][string], boolean][] = [
      ['TRUE', true],
      ['false', false],
      ['1', true],
      ['0', false],
      [' Yes ', true],
      ['NO', false],
      [true, true],
      [0, false],
    ]
    for (const [value, expected] of cases)
      t.equal(accepted(one({ type: 'boolean' }, value)).fields.F__c, expected, String(value))
    for (const value of ['y', 'on', '2', 2]) {
      t.match(
        rejection(one({ type: 'boolean' }, value)).message,
        /is not a boolean \(true\/false, 1\/0, yes\/no\)/,
      )
    }
  })

  t.test('date: YYYY-MM-DD, a real calendar day', async (t) => {
    t.equal(accepted(one({ type: 'date' }, '2024-02-29')).fields.F__c, '2024-02-29')
    t.equal(accepted(one({ type: 'date' }, ' 2000-02-29 ')).fields.F__c, '2000-02-29')
    t.match(
      rejection(one({ type: 'date' }, '2023-02-29')).message,
      /"2023-02-29" is not a valid calendar date/,
    )
    t.match(rejection(one({ type: 'date' }, '1900-02-29')).message, /not a valid calendar date/)
    t.match(rejection(one({ type: 'date' }, '2024-04-31')).message, /not a valid calendar date/)
    t.match(rejection(one({ type: 'date' }, '2024-13-01')).message, /not a valid calendar date/)
    t.match(rejection(one({ type: 'date' }, '01/05/2024')).message, /is not a date \(YYYY-MM-DD\)/)
    t.match(rejection(one({ type: 'date' }, '2024-5-1')).message, /is not a date/)
    t.match(rejection(one({ type: 'date' }, '1600-01-01')).message, /outside the years 1700–4000/)
    t.equal(rejection(one({ type: 'date' }, 20240501)).code, 'INVALID_FIELD_VALUE')
  })

  t.test('datetime: ISO 8601 with a zone, normalised to UTC', async (t) => {
    const cases: [string, string][] = [
      ['2024-05-01T14:30:00Z', '2024-05-01T14:30:00.000Z'],
      ['2024-05-01T14:30:00+02:00', '2024-05-01T12:30:00.000Z'],
      ['2024-05-01T00:15:00-0530', '2024-05-01T05:45:00.000Z'],
      ['2024-05-01T14:30+01', '2024-05-01T13:30:00.000Z'],
      ['2024-05-01 14:30:00.123456Z', '2024-05-01T14:30:00.123Z'],
      ['2024-12-31T23:30:00-01:00', '2025-01-01T00:30:00.000Z'],
    ]
    for (const [value, expected] of cases)
      t.equal(accepted(one({ type: 'datetime' }, value)).fields.F__c, expected, value)
    t.match(rejection(one({ type: 'datetime' }, '2024-05-01T14:30:00')).message, /with a time zone/)
    t.match(rejection(one({ type: 'datetime' }, '2024-05-01')).message, /with a time zone/)
    t.match(rejection(one({ type: 'datetime' }, '2024-02-30T10:00:00Z')).message, /not a valid calendar date/)
    t.match(rejection(one({ type: 'datetime' }, '2024-05-01T24:00:00Z')).message, /not a valid time of day/)
    t.match(
      rejection(one({ type: 'datetime' }, '2024-05-01T10:00:00+25:00')).message,
      /invalid time zone offset/,
    )
  })

  t.test('picklist: exact match of the configured values', async (t) => {
    const field: StatusField = { type: 'picklist', values: ['Shipped', 'On Hold'] }
    t.equal(accepted(one(field, 'On Hold')).fields.F__c, 'On Hold')
    t.match(
      rejection(one(field, 'shipped')).message,
      /"shipped" is not one of the allowed values \(Shipped, On Hold\)/,
    )
  })

  t.test('datetime range and non-text values; long picklists are listed in part', async (t) => {
    t.match(
      rejection(one({ type: 'datetime' }, '4001-01-01T00:00:00Z')).message,
      /outside the years 1700–4000/,
    )
    t.equal(rejection(one({ type: 'datetime' }, 1714560000000)).code, 'INVALID_FIELD_VALUE')
    const many: StatusField = { type: 'picklist', values: Array.from({ length: 12 }, (_, i) => `V${i}`) }
    t.equal(accepted(one(many, 'V11')).fields.F__c, 'V11')
    t.match(rejection(one(many, 'V12')).message, /\(V0, V1, V2, V3, V4, V5, V6, V7, V8, V9, …\)$/)
  })

  t.test('null is allowed for every type', async (t) => {
    for (const type of ['string', 'number', 'integer', 'boolean', 'date', 'datetime', 'picklist'] as const) {
      t.strictSame(accepted(one({ type, values: ['A'] }, null)).fields, { F__c: null }, type)
    }
  })

  t.test('INVALID_DOCUMENT_NAME: a plain file name only', async (t) => {
    const docSpec = spec({ documentColumn: 'File' })
    const check = (file: RawRow['values'][string]) =>
      validateStatusRows([row(1, { Id: ID_1, File: file })], docSpec)[0] as ValidatedRow
    t.strictSame(check('POD 2024-05 é.pdf'), {
      index: 1,
      ok: true,
      key: ID_1,
      fields: {},
      document: 'POD 2024-05 é.pdf',
    })
    for (const bad of [
      '../etc/passwd',
      'a/b.pdf',
      'a\\b.pdf',
      '..',
      'x..pdf',
      '.',
      'a\u0000b.pdf',
      'a\nb.pdf',
      `${'é'.repeat(128)}`,
    ]) {
      t.match(
        rejection(check(bad)),
        { code: 'INVALID_DOCUMENT_NAME', field: 'File', key: ID_1, message: /^row 1, column File: / },
        JSON.stringify(bad),
      )
    }
    t.match(rejection(check('é'.repeat(128))).message, /256 bytes long, more than 255/)
    t.equal(accepted(check(`${'a'.repeat(251)}.pdf`)).document?.length, 255)
  })

  t.test('NOTHING_TO_APPLY: no field value and no document', async (t) => {
    const result = validateStatusRows(
      [row(1, { Id: ID_1, Status__c: '', File: '' }, 2), row(2, { Id: ID_2, File: null })],
      spec({ documentColumn: 'File' }),
    )
    t.match(rejection(result[0]), {
      code: 'NOTHING_TO_APPLY',
      key: ID_1,
      field: null,
      message: 'row 1 (line 2): no field value and no document; nothing to apply',
    })
    t.equal(rejection(result[1]).code, 'NOTHING_TO_APPLY')
  })

  t.test('a column named like an Object.prototype member is not mistaken for a present key', async (t) => {
    const [result] = validateStatusRows([row(1, { Status__c: 'x' })], spec({ keyColumn: 'constructor' }))
    t.equal(rejection(result).code, 'MISSING_KEY')
  })

  t.test('parse then validate: a CSV file end to end', async (t) => {
    const csv =
      'OrderNo;Status;Amount;Delivered;File;Comment\r\n' +
      'ERP-1;Shipped;1234.50;2024-05-01T10:00:00+02:00;pod-1.pdf;ok\r\n' +
      'ERP-2;Lost;;;;\r\n' +
      'ERP-3;#N/A;12abc;;;\r\n' +
      ';Open;1;;;\r\n'
    const file = parsed(csv, format('csv', { delimiter: ';' }))
    const result = validateStatusRows(
      file.rows,
      rowSpecOf(
        statusFlow({
          fields: {
            Status__c: { column: 'Status', type: 'picklist', values: ['Shipped', 'Open'] },
            Amount__c: { column: 'Amount', type: 'number' },
            Delivered__c: { column: 'Delivered', type: 'datetime' },
          },
        }),
      ),
    )
    t.strictSame(result[0], {
      index: 1,
      ok: true,
      key: 'ERP-1',
      fields: { Status__c: 'Shipped', Amount__c: 1234.5, Delivered__c: '2024-05-01T08:00:00.000Z' },
      document: 'pod-1.pdf',
    })
    t.match(rejection(result[1]), {
      code: 'INVALID_FIELD_VALUE',
      field: 'Status__c',
      message: /^row 2 \(line 3\), column Status/,
    })
    t.match(rejection(result[2]), {
      code: 'INVALID_FIELD_VALUE',
      field: 'Amount__c',
      message: /"12abc" is not a number/,
    })
    t.match(rejection(result[3]), {
      code: 'MISSING_KEY',
      message: /^row 4 \(line 5\), column OrderNo: empty/,
    })
  })
})

// ---------------------------------------------------------------- error report

const outcomes: RowOutcome[] = [
  {
    index: 3,
    key: '=cmd|"/c calc"!A1',
    outcome: 'rejected',
    code: 'INVALID_FIELD_VALUE',
    field: 'Amount__c',
    message: 'row 3, column Amount__c: "12abc" is not a number',
    recordId: null,
    documentFileId: null,
  },
  {
    index: 1,
    key: 'ERP-1',
    outcome: 'applied',
    code: null,
    field: null,
    message: null,
    recordId: ID_1,
    documentFileId: 'a0B000000000001',
  },
  {
    index: 2,
    key: '@SUM(A1)',
    outcome: 'rejected',
    code: 'SALESFORCE_ERROR',
    field: null,
    message: '+FIELD_CUSTOM_VALIDATION_EXCEPTION, line one\nline two',
    recordId: ID_2,
    documentFileId: null,
  },
]

t.test('error report', async (t) => {
  t.test('CSV: only rejected rows, by row number, formula cells defused, RFC 4180 quoting', async (t) => {
    const report = renderErrorReport('csv', 'status_2024-05-01.csv', outcomes)
    t.equal(report.fileName, 'status_2024-05-01.errors.csv')
    t.equal(
      report.content,
      'row,key,recordId,code,field,message\r\n' +
        `2,'@SUM(A1),${ID_2},SALESFORCE_ERROR,,"'+FIELD_CUSTOM_VALIDATION_EXCEPTION, line one\nline two"\r\n` +
        `3,"'=cmd|""/c calc""!A1",,INVALID_FIELD_VALUE,Amount__c,"row 3, column Amount__c: ""12abc"" is not a number"\r\n`,
    )
    for (const line of report.content.split('\r\n').slice(1)) t.notMatch(line, /^[^,]*,[=+\-@]/)
  })

  t.test('XML status files get a CSV report', async (t) => {
    const report = renderErrorReport('xml', 'in/statuses.xml', outcomes)
    t.equal(report.fileName, 'in/statuses.errors.csv')
    t.match(report.content, /^row,key,recordId,code,field,message\r\n2,'@SUM/)
  })

  t.test('JSON: the same rows, values as they are, nulls kept', async (t) => {
    const report = renderErrorReport('json', 'statuses.json', outcomes)
    t.equal(report.fileName, 'statuses.errors.json')
    t.ok(report.content.endsWith('}\n'))
    t.strictSame(JSON.parse(report.content), {
      statusFile: 'statuses.json',
      rejected: 2,
      rows: [
        {
          row: 2,
          key: '@SUM(A1)',
          recordId: ID_2,
          code: 'SALESFORCE_ERROR',
          field: null,
          message: '+FIELD_CUSTOM_VALIDATION_EXCEPTION, line one\nline two',
        },
        {
          row: 3,
          key: '=cmd|"/c calc"!A1',
          recordId: null,
          code: 'INVALID_FIELD_VALUE',
          field: 'Amount__c',
          message: 'row 3, column Amount__c: "12abc" is not a number',
        },
      ],
    })
  })

  t.test('names without an extension, and no rejected rows', async (t) => {
    const report = renderErrorReport(
      'csv',
      'STATUS',
      outcomes.filter((o) => o.outcome === 'applied'),
    )
    t.strictSame(report, {
      fileName: 'STATUS.errors.csv',
      content: 'row,key,recordId,code,field,message\r\n',
    })
  })
})
