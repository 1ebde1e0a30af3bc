import t from 'tap'
import { BridgeError } from '../../src/domain/errors.js'
import {
  chunkInList,
  DEFAULT_MAX_QUERY_CHARS,
  inClause,
  selectWhereIn,
  soqlIdentifier,
  soqlString,
} from '../../src/domain/soql.js'

/** Reads one SOQL string literal back the way Salesforce's lexer does; returns value and where it ended. */
function parseLiteral(text: string, start: number): { value: string; end: number } {
  if (text[start] !== "'") throw new Error(`no literal at ${start}`)
  const map: Record<string, string> = {
    n: '\n',
    r: '\r',
    t: '\t',
    b: '\b',
    f: '\f',
    "'": "'",
    '"': '"',
    '\\': '\\',
  }
  let value = ''
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i] as string
    if (c === '\\') {
      const next = text[i + 1] as string
      const mapped = map[next]
      if (mapped === undefined) throw new Error(`bad escape \\${next}`)
      value += mapped
      i++
    } else if (c === "'") {
      return { value, end: i + 1 }
    } else {
      value += c
    }
  }
  throw new Error('unterminated literal')
}

t.test('soqlString escapes every special character', async (t) => {
  t.equal(soqlString('plain'), "'plain'")
  t.equal(soqlString("O'Brien"), "'O\\'Brien'")
  t.equal(soqlString('say "hi"'), `'say \\"hi\\"'`)
  t.equal(soqlString('C:\\dir\\'), "'C:\\\\dir\\\\'")
  t.equal(soqlString('a\nb\rc\td\be\ff'), "'a\\nb\\rc\\td\\be\\ff'")
  t.equal(soqlString(''), "''")
})

t.test('injection attempts stay one literal', async (t) => {
  const attacks = [
    "' OR Name != '",
    "x' OR Id != null OR Name = 'y",
    "\\' OR Name != \\'",
    "\\\\' OR 1=1 --",
    'ends with backslash \\',
    "'; DELETE FROM Account; '",
    'ünïcödé 文件 📄 \u2028 \u0000',
    "quote at end'",
  ]
  for (const attack of attacks) {
    const literal = soqlString(attack)
    const parsed = parseLiteral(literal, 0)
    t.equal(parsed.value, attack, `attack #${attacks.indexOf(attack)} round-trips`)
    t.equal(parsed.end, literal.length, 'the literal ends exactly where the rendered text ends')
  }
  const [query] = selectWhereIn({ fields: ['Id'], object: 'Account', field: 'Name', values: attacks })
  t.ok(query)
  const list = (query as string).slice((query as string).indexOf('IN (') + 4)
  const seen: string[] = []
  let pos = 0
  while (list[pos] !== ')') {
    const { value, end } = parseLiteral(list, pos)
    seen.push(value)
    pos = list[end] === ',' ? end + 1 : end
  }
  t.same(seen, attacks, 'the IN list holds exactly the attack strings as data')
  t.equal(pos, list.length - 1, 'nothing follows the IN list')
})

t.test('soqlIdentifier accepts API names and rejects anything else', async (t) => {
  for (const ok of ['Id', 'cg__CaseFile__c', 'Account.Name', 'Parent__r.Owner.Name', 'A1_b']) {
    t.equal(soqlIdentifier(ok), ok)
  }
  for (const bad of ['', '1abc', '_x', 'Name OR', "Name'", 'a..b', 'a.', 'Na-me', 'Näme', 'Id,Name']) {
    t.throws(() => soqlIdentifier(bad), { code: 'VALIDATION_FAILED' }, JSON.stringify(bad))
  }
  t.ok(
    (() => {
      try {
        soqlIdentifier('x y')
      } catch (e) {
        return e instanceof BridgeError
      }
      return false
    })(),
  )
})

t.test('chunkInList keeps each rendered list within the budget', async (t) => {
  const values = Array.from({ length: 1000 }, (_, i) => `a0X${String(i).padStart(15, '0')}`)
  const max = 500
  const chunks = chunkInList(values, max)
  t.ok(chunks.length > 1)
  t.same(chunks.flat(), values, 'order and content kept')
  for (const chunk of chunks) {
    t.ok(chunk.map(soqlString).join(',').length <= max)
  }
  // Each id renders as 20 chars plus a comma → 23 per 500 budget (23*20+22 = 482).
  t.equal(chunks[0]?.length, 23)
  t.same(chunkInList([], 10), [])
  t.throws(() => chunkInList(['x'.repeat(20)], 10), { code: 'VALIDATION_FAILED' })
  const encoded = chunkInList(['ä ä', 'b'], 20, (s) => encodeURIComponent(s).length)
  t.same(encoded, [['ä ä'], ['b']], 'custom measure (URL-encoded) is honoured')
})

t.test('selectWhereIn builds one query per chunk under the limit', async (t) => {
  const values = Array.from({ length: 20_000 }, (_, i) => `001${String(i).padStart(15, '0')}`)
  const queries = selectWhereIn({
    fields: ['Id', 'Name', 'Id'],
    object: 'Account',
    field: 'Id',
    values,
    extraWhere: "Name != 'x'",
  })
  t.ok(queries.length >= 5)
  for (const q of queries) {
    t.ok(q.length <= DEFAULT_MAX_QUERY_CHARS)
    t.match(q, /^SELECT Id, Name FROM Account WHERE Id IN \('/)
    t.ok(q.endsWith(") AND (Name != 'x')"))
  }
  const total = queries.reduce((n, q) => n + (q.match(/'001/g)?.length ?? 0), 0)
  t.equal(total, values.length)
  t.same(selectWhereIn({ fields: ['Id'], object: 'Account', field: 'Id', values: [] }), [])
  t.throws(() => selectWhereIn({ fields: ['Id'], object: 'Account; x', field: 'Id', values: ['a'] }), {
    code: 'VALIDATION_FAILED',
  })
  t.throws(() => selectWhereIn({ fields: [], object: 'Account', field: 'Id', values: ['a'] }), {
    code: 'VALIDATION_FAILED',
  })
  t.throws(
    () => selectWhereIn({ fields: ['Id'], object: 'Account', field: 'Id', values: ['a'], maxChars: 10 }),
    {
      code: 'VALIDATION_FAILED',
    },
  )
  const small = selectWhereIn({ fields: ['Id'], object: 'Account', field: 'Id', values, maxChars: 2000 })
  for (const q of small) t.ok(q.length <= 2000)
  t.equal(inClause('Name', ["a'b"]), "Name IN ('a\\'b')")
})
