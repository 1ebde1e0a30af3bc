/**
 * The status-file parsers' budget (issue 18, defects 1 and 9): parsing time
 * grows linearly with the input, each limit in STATUS_FILE_LIMITS is a
 * stated maximum with its boundary tested, and a pathological file (deep
 * nesting, many attributes or columns, a huge cell, an unclosed quote) is
 * STATUS_FILE_UNPARSEABLE, never a thrown error (which the run records as
 * INTERNAL) and never a slow path.
 *
 * Timings are CPU time, the fastest of a few runs (the least disturbed by other work
 * on the machine), compared as ratios: 4× the input must cost less than 12×
 * the time, where quadratic work costs 16×. Memory is the peak RSS a parse
 * adds, measured in a fresh process per input.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import type { StatusFormat } from '../../src/config/schema.js'
import { type ParsedStatusFile, parseStatusFile, STATUS_FILE_LIMITS } from '../../src/domain/status-file.js'
import { childEnv, compiled } from '../support/service-build.js'

const utf8 = (text: string) => new TextEncoder().encode(text)
const execFileAsync = promisify(execFile)

function format(type: StatusFormat['type'], overrides: Partial<StatusFormat> = {}): StatusFormat {
  return { type, encoding: 'utf8', delimiter: ',', recordsPath: '', maxBytes: 52_428_800, ...overrides }
}

type Failed = Extract<ParsedStatusFile, { ok: false }>

/** Parses; a throw fails the test (it is what made deep XML end INTERNAL). */
function parse(text: string, fmt: StatusFormat): ParsedStatusFile {
  return parseStatusFile(utf8(text), fmt)
}

function failed(text: string, fmt: StatusFormat): Failed {
  const result = parse(text, fmt)
  if (result.ok) throw new Error(`expected a failure, got ${result.rows.length} rows`)
  return result
}

/**
 * Ms of CPU one parse took. A parse is synchronous: CPU time is its cost, and unlike wall
 * time it does not grow when other processes hold the cores (a 4× parse spans more
 * scheduler slices than a 1× one, which skewed wall-time ratios on a loaded machine).
 */
function timeParse(bytes: Uint8Array, fmt: StatusFormat): number {
  const before = process.cpuUsage()
  parseStatusFile(bytes, fmt)
  const { user, system } = process.cpuUsage(before)
  return (user + system) / 1000
}

/**
 * The fastest of `rounds` parses of each input, taken in turns so that a
 * burst of other work on the machine slows both alike, after one warm-up.
 */
function fastestParses(texts: readonly string[], fmt: StatusFormat, rounds = 5): number[] {
  const inputs = texts.map(utf8)
  for (const bytes of inputs) parseStatusFile(bytes, fmt)
  const best = inputs.map(() => Number.POSITIVE_INFINITY)
  for (let round = 0; round < rounds; round++) {
    inputs.forEach((bytes, i) => {
      best[i] = Math.min(best[i] as number, timeParse(bytes, fmt))
    })
  }
  return best
}

/** Linear work gives 4; quadratic 16. Measured 2–8 on a busy 2-core machine (garbage collection of the large input's tree varies). */
const LINEAR_RATIO = 12

function assertLinear(
  t: Test,
  label: string,
  build: (n: number) => string,
  fmt: StatusFormat,
  n: number,
): void {
  const [small, large] = fastestParses([build(n), build(4 * n)], fmt) as [number, number]
  // 5 ms of slack keeps a sub-millisecond baseline from making the ratio noise.
  t.ok(
    large < LINEAR_RATIO * Math.max(small, 5),
    `${label}: ${n} → ${small.toFixed(1)} ms, ${4 * n} → ${large.toFixed(1)} ms (ratio ${(large / small).toFixed(1)}, limit ${LINEAR_RATIO})`,
  )
}

const csvRows = (n: number) =>
  `Id,Status__c,Amount__c\n${Array.from({ length: n }, (_, i) => `A${i},Shipped,${i}.50\n`).join('')}`
const jsonRows = (n: number) =>
  JSON.stringify({
    rows: Array.from({ length: n }, (_, i) => ({ Id: `A${i}`, Status__c: 'Shipped', Amount__c: i })),
  })
const xmlRows = (n: number) =>
  `<statuses>${Array.from({ length: n }, (_, i) => `<status id="A${i}"><Status__c>Shipped</Status__c><Amount__c>${i}</Amount__c></status>`).join('')}</statuses>`

t.test('time is linear in the input: 1× against 4×', async (t) => {
  t.test('CSV rows', async (t) => assertLinear(t, 'CSV', csvRows, format('csv'), 5000))
  t.test('JSON rows', async (t) => assertLinear(t, 'JSON', jsonRows, format('json'), 20_000))
  t.test('XML rows, the row element found by itself', async (t) =>
    assertLinear(t, 'XML', xmlRows, format('xml'), 4000),
  )
  t.test('XML rows named by recordsPath', async (t) =>
    assertLinear(t, 'XML recordsPath', xmlRows, format('xml', { recordsPath: 'statuses.status' }), 4000),
  )
  t.test('XML: many different children of the root (no row element to tell)', async (t) => {
    const distinct = (n: number) =>
      `<statuses>${Array.from({ length: n }, (_, i) => `<s${i}/>`).join('')}</statuses>`
    t.equal(failed(distinct(10), format('xml')).code, 'STATUS_FILE_UNPARSEABLE')
    assertLinear(t, 'XML distinct children', distinct, format('xml'), 5000)
  })
  t.test('XML: a recordsPath typo among many children', async (t) => {
    const fmt = format('xml', { recordsPath: 'statuses.statu' })
    t.match(
      failed(xmlRows(3), fmt).message,
      /recordsPath "statuses.statu": no such element \(found <status>\)/,
    )
    assertLinear(t, 'XML recordsPath typo', xmlRows, fmt, 4000)
  })
})

t.test('nesting: at most STATUS_FILE_LIMITS.maxDepth levels', async (t) => {
  const max = STATUS_FILE_LIMITS.maxDepth
  t.equal(max, 32)
  const xmlNested = (depth: number) => `${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}`
  const jsonNested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`

  t.test('XML at the limit reads (and is refused for what it is); one more level is too deep', async (t) => {
    t.match(failed(xmlNested(max), format('xml')).message, /has child elements; rows must be flat/)
    const deep = failed(xmlNested(max + 1), format('xml'))
    t.equal(deep.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(deep.message, /^XML: elements nested deeper than 32 levels/)
  })

  t.test('JSON at the limit reads; one more level is too deep, with its position', async (t) => {
    t.match(failed(jsonNested(max), format('json')).message, /^JSON row 1: expected an object/)
    const deep = failed(jsonNested(max + 1), format('json'))
    t.equal(deep.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(deep.message, /^JSON: arrays and objects nested deeper than 32 levels \(line 1, column 33\)/)
  })

  t.test('brackets inside JSON strings are text, not nesting', async (t) => {
    const text = JSON.stringify([{ Id: 'A1', Note__c: `${'['.repeat(100)}"\\{` }])
    const result = parse(text, format('json'))
    t.ok(result.ok, 'parsed')
  })

  t.test('100,000 levels: refused as unparseable, never thrown', async (t) => {
    const xml = failed(xmlNested(100_000), format('xml'))
    t.equal(xml.code, 'STATUS_FILE_UNPARSEABLE')
    t.match(xml.message, /nested deeper than 32 levels/)
    const json = failed(jsonNested(100_000), format('json'))
    t.equal(json.code, 'STATUS_FILE_UNPARSEABLE')
    const object = failed(
      `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`,
      format('json', { recordsPath: 'a.a' }),
    )
    t.match(object.message, /nested deeper than 32 levels/)
  })

  t.test('a deep JSON file costs no more than a flat one of the same size', async (t) => {
    // JSON.parse takes ~7× longer per byte on deep nesting than on rows; the depth scan stops at level 33.
    const depth = 2_000_000
    const deep = jsonNested(depth)
    const flat = jsonRows(Math.round((2 * depth) / 55))
    const [deepMs, flatMs] = fastestParses([deep, flat], format('json')) as [number, number]
    t.ok(
      deepMs < 2 * flatMs + 20,
      `deep ${(deep.length / 1e6).toFixed(1)} MB: ${deepMs.toFixed(1)} ms; flat ${(flat.length / 1e6).toFixed(1)} MB: ${flatMs.toFixed(1)} ms`,
    )
  })
})

t.test('columns: at most STATUS_FILE_LIMITS.maxColumns per file', async (t) => {
  const max = STATUS_FILE_LIMITS.maxColumns
  t.equal(max, 1000)
  const names = (n: number) => Array.from({ length: n }, (_, i) => `C${i}`)

  t.test('CSV header', async (t) => {
    const csv = (n: number) =>
      `${names(n).join(',')}\n${names(n)
        .map(() => '1')
        .join(',')}\n`
    t.ok(parse(csv(max), format('csv')).ok, `${max} columns read`)
    const wide = failed(csv(max + 1), format('csv'))
    t.equal(wide.code, 'STATUS_FILE_UNPARSEABLE')
    t.equal(wide.message, 'CSV header (line 1): 1001 columns, more than the 1000 a status file may have')
  })

  t.test('JSON keys, counted over all rows', async (t) => {
    const spread = (n: number) => JSON.stringify(names(n).map((name) => ({ [name]: 1 })))
    t.ok(parse(spread(max), format('json')).ok, `${max} keys read`)
    const wide = failed(spread(max + 1), format('json'))
    t.match(wide.message, /^JSON row 1001: 1001 columns, more than the 1000/)
  })

  t.test('XML attributes and column elements, counted together', async (t) => {
    const half = max / 2
    const row = (attributes: number, elements: number) =>
      `<r><s ${names(attributes)
        .map((name) => `${name}="1"`)
        .join(' ')}>${names(elements)
        .map((name) => `<E${name}>1</E${name}>`)
        .join('')}</s></r>`
    t.ok(parse(row(half, half), format('xml')).ok, `${half} attributes + ${half} elements read`)
    t.match(failed(row(half, half + 1), format('xml')).message, /^XML: row 1 \(<s>\): 1001 columns/)
  })

  t.test('50,000 attributes on one element: refused in linear time', async (t) => {
    const attributes = (n: number) =>
      `<r><s ${names(n)
        .map((name) => `${name}="1"`)
        .join(' ')}/></r>`
    const crowded = failed(attributes(50_000), format('xml'))
    t.equal(
      crowded.message,
      'XML: an element with more than 1000 attributes (line 1, column 4); a status file has at most 1000 columns',
    )
    // The validator's cost per attribute grows with their number; the scan before it stops at 1,001.
    assertLinear(t, 'XML attributes', attributes, format('xml'), 20_000)
  })

  t.test('the attribute scan skips quoted values, comments, CDATA and processing instructions', async (t) => {
    const equals = '='.repeat(2 * max)
    const xml =
      `<?xml version="1.0"?><?erp x${equals}?><!-- ${equals} --><r>` +
      `<s Id="A1" Note__c="a${equals}>b" Other__c='${equals}'><Text__c><![CDATA[${equals}<x a=1>]]></Text__c></s></r>`
    const result = parse(xml, format('xml'))
    if (!result.ok) throw new Error(result.message)
    t.strictSame(result.rows[0]?.values, {
      Id: 'A1',
      Note__c: `a${equals}>b`,
      Other__c: equals,
      Text__c: `${equals}<x a=1>`,
    })
  })
})

t.test('cells: at most STATUS_FILE_LIMITS.maxCellChars characters', async (t) => {
  const max = STATUS_FILE_LIMITS.maxCellChars
  t.equal(max, 131_072)
  const cell = (n: number) => 'x'.repeat(n)

  t.test('CSV, quoted or not', async (t) => {
    t.ok(parse(`Id,Note__c\nA1,${cell(max)}\n`, format('csv')).ok)
    const long = failed(`Id,Note__c\nA1,"${cell(max + 1)}"\n`, format('csv'))
    t.equal(
      long.message,
      'CSV line 2, column Note__c: a value of 131073 characters, more than the 131072 a Salesforce field can hold',
    )
  })

  t.test('JSON', async (t) => {
    t.ok(parse(JSON.stringify([{ Id: 'A1', Note__c: cell(max) }]), format('json')).ok)
    const long = failed(JSON.stringify([{ Id: 'A1', Note__c: cell(max + 1) }]), format('json'))
    t.match(long.message, /^JSON row 1, key "Note__c": a value of 131073 characters/)
  })

  t.test('XML text and attribute values', async (t) => {
    t.ok(parse(`<r><s><Note__c>${cell(max)}</Note__c></s></r>`, format('xml')).ok)
    t.match(
      failed(`<r><s><Note__c>${cell(max + 1)}</Note__c></s></r>`, format('xml')).message,
      /^XML: <Note__c>: a value of 131073 characters/,
    )
    t.match(
      failed(`<r><s Note__c="${cell(max + 1)}"/></r>`, format('xml')).message,
      /^XML: <s>: a value of 131073/,
    )
  })
})

t.test('CSV: an unclosed quote or a huge field stops at the record limit', async (t) => {
  const limit = STATUS_FILE_LIMITS.maxCsvRecordBytes
  const unclosed = `Id,Note__c\nA1,"${'x'.repeat(4 * limit)}\nA2,ok\n`
  const result = failed(unclosed, format('csv'))
  t.equal(result.code, 'STATUS_FILE_UNPARSEABLE')
  t.match(result.message, /^CSV line 2: a record longer than 1048576 bytes \(an unclosed quote/)

  const quotes = `Id,Note__c\nA1,"${'""'.repeat(limit)}"\n`
  t.match(failed(quotes, format('csv')).message, /a record longer than 1048576 bytes/)

  // The parser stops at the limit: a 16 MiB unclosed quote costs no more than a 4 MiB one, give or take.
  assertLinear(t, 'CSV unclosed quote', (n) => `Id,Note__c\nA1,"${'x'.repeat(n)}\n`, format('csv'), 4 * limit)
})

/** Runs test/support/status-parse-peak.ts in a fresh process: how far one parse raised peak RSS. */
async function peakOf(
  shape: string,
  count: number,
): Promise<{ inputBytes: number; peakGrowth: number; outcome: string }> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [compiled('test/support/status-parse-peak.ts'), shape, String(count)],
    { maxBuffer: 1024 * 1024, env: childEnv() },
  )
  return JSON.parse(stdout)
}

const MiB = 1024 * 1024
/** Peak memory per byte of input; measured 8 (JSON) to 38 (CSV, XML), with slack for a busy machine. */
const PEAK_PER_INPUT_BYTE = 64

t.test('memory is linear in the input: peak RSS of a parse, 1× against 4×', async (t) => {
  for (const shape of ['csv', 'json', 'xml']) {
    t.test(shape, async (t) => {
      const small = await peakOf(shape, 25_000)
      const large = await peakOf(shape, 100_000)
      t.equal(large.outcome, '100000 rows')
      const label = `${(small.inputBytes / MiB).toFixed(1)} MiB → +${(small.peakGrowth / MiB).toFixed(0)} MiB, ${(large.inputBytes / MiB).toFixed(1)} MiB → +${(large.peakGrowth / MiB).toFixed(0)} MiB`
      // 32 MiB of floor: the allocator takes memory in large steps.
      t.ok(large.peakGrowth < 8 * Math.max(small.peakGrowth, 32 * MiB), `ratio under 8: ${label}`)
      t.ok(
        large.peakGrowth < PEAK_PER_INPUT_BYTE * large.inputBytes,
        `under ${PEAK_PER_INPUT_BYTE}× the input`,
      )
    })
  }

  t.test('pathological files are refused within the same budget', async (t) => {
    for (const [shape, count] of [
      ['deep-json', 8_000_000],
      ['deep-xml', 2_000_000],
      ['unclosed-quote', 16_000_000],
    ] as const) {
      const { inputBytes, peakGrowth, outcome } = await peakOf(shape, count)
      t.equal(outcome, 'STATUS_FILE_UNPARSEABLE', `${shape}: refused, not thrown`)
      t.ok(
        peakGrowth < PEAK_PER_INPUT_BYTE * inputBytes,
        `${shape}: ${(inputBytes / MiB).toFixed(1)} MiB → +${(peakGrowth / MiB).toFixed(0)} MiB`,
      )
    }
  })
})
