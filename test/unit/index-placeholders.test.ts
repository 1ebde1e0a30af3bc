/** {index.Column} placeholders: the configuration check, the index match rule's key, and file fields from index columns. */
import t from 'tap'
import { checkConfig } from '../../src/config/checks.js'
import type { InboundFlow } from '../../src/config/schema.js'
import { fileFieldValues } from '../../src/domain/file-fields.js'
import { compileMatchRules, extractMatchKey } from '../../src/domain/matching.js'

const configWith = (flow: Record<string, unknown>) => ({
  endpoints: { partner: { protocol: 'sftp', host: 'h', username: 'u', password: 'p' } },
  flows: [
    {
      name: 'catalogue',
      kind: 'inbound',
      source: { endpoint: 'partner', directory: '/in' },
      target: { fileObject: 'Product_File__c', parentField: 'Parent__c' },
      after: { success: 'delete', errorDirectory: '/errors' },
      ...flow,
    },
  ],
})
const issuesOf = (flow: Record<string, unknown>) =>
  checkConfig(configWith(flow))
    .filter((i) => i.path.startsWith('flows'))
    .map((i) => `${i.path}: ${i.message}`)

const indexRule = { type: 'index', object: 'Product2', key: { ProductCode: '{index.SKU}' } }
const fields = { Language__c: '{index.Lang}', Description__c: { value: 'Photo {index.Caption}' } }

t.test('configuration: {index.X} without an index setting is an error naming its key path', async (t) => {
  t.same(
    issuesOf({
      match: [indexRule],
      target: { fileObject: 'Product_File__c', parentField: 'Parent__c', fields },
    }),
    [
      "flows[0].target.fields.Language__c: {index.Lang} comes from a batch's index file, but the flow has no index setting (add index: {names: ['index.csv']})",
      "flows[0].target.fields.Description__c.value: {index.Caption} comes from a batch's index file, but the flow has no index setting (add index: {names: ['index.csv']})",
      "flows[0].match[0].type: an index rule needs the flow's index setting (index: {…})",
    ],
  )
  t.same(
    issuesOf({
      index: {},
      match: [indexRule],
      target: { fileObject: 'Product_File__c', parentField: 'Parent__c', fields },
    }),
    [],
    'with an index setting every {index.Column} is allowed (the columns are known only when an index arrives)',
  )
  t.same(
    issuesOf({
      index: { required: true },
      match: [{ ...indexRule, key: { ProductCode: '{sku}', Name: 'fixed' } }],
    }),
    [
      'flows[0].match[0].key.ProductCode: unknown placeholder {sku} (known: {index.<Column>}, {file.name})',
      'flows[0].match[0].key.ProductCode: must use an index column, e.g. "{index.SKU}"',
      'flows[0].match[0].key.Name: must use an index column, e.g. "{index.SKU}"',
    ],
  )
})

const flow = (match: unknown[]) => ({ match }) as unknown as InboundFlow
const rules = compileMatchRules(
  flow([indexRule, { type: 'filename', pattern: '^(?<ProductCode>[A-Z]+-\\d+)_', object: 'Product2' }]).match,
)

t.test(
  'an index rule takes the record key from the file index row; without a row the next rule decides',
  async (t) => {
    const indexed = extractMatchKey(
      { name: 'front.jpg', relativeDir: 'drop', index: { File: 'front.jpg', SKU: 'W-100', Lang: 'de' } },
      rules,
    )
    t.same(indexed, {
      ok: true,
      key: {
        kind: 'lookup',
        ruleIndex: 0,
        object: 'Product2',
        fields: { ProductCode: 'W-100' },
        captures: { 'index.File': 'front.jpg', 'index.SKU': 'W-100', 'index.Lang': 'de' },
      },
    })
    const byName = extractMatchKey(
      { name: 'W-7_photo.jpg', relativeDir: '', index: { File: 'x', Lang: 'fr' } },
      rules,
    )
    t.match(byName, {
      ok: true,
      key: {
        ruleIndex: 1,
        fields: { ProductCode: 'W-7' },
        captures: { ProductCode: 'W-7', 'index.Lang': 'fr' },
      },
    })
    t.match(extractMatchKey({ name: 'loose.jpg', relativeDir: '' }, rules), {
      ok: false,
      code: 'NO_MATCH_RULE',
    })
    t.match(extractMatchKey({ name: 'a.jpg', relativeDir: '', index: { SKU: ' ' } }, rules), {
      ok: false,
      code: 'NO_MATCHING_RECORD',
      message: /key ProductCode is empty in the index row of a\.jpg/,
    })
  },
)

t.test('an index rule with Id takes a record id', async (t) => {
  const byId = compileMatchRules(
    flow([{ type: 'index', object: 'Quote', key: { Id: '{index.QuoteId}' } }]).match,
  )
  t.match(extractMatchKey({ name: 'q.pdf', relativeDir: '', index: { QuoteId: '0Q0000000000001' } }, byId), {
    ok: true,
    key: { kind: 'id', object: 'Quote', id: '0Q0000000000001' },
  })
  t.match(extractMatchKey({ name: 'q.pdf', relativeDir: '', index: { QuoteId: 'nope' } }, byId), {
    ok: false,
    code: 'NO_MATCHING_RECORD',
  })
})

t.test('file fields from index columns; a missing column fails the file with what is missing', async (t) => {
  const context = {
    flow: 'catalogue',
    fileName: 'front.jpg',
    recordId: '01t000000000001AAA',
    date: '2026-12-03',
    captures: { 'index.Lang': 'de', 'index.Caption': 'Front' },
  }
  t.same(fileFieldValues(fields, context), {
    ok: true,
    values: { Language__c: 'de', Description__c: 'Photo Front' },
  })
  t.same(fileFieldValues({ Language__c: '{index.Region}' }, context), {
    ok: false,
    code: 'FIELD_VALUE_INVALID',
    message:
      "field Language__c: front.jpg has no {index.Region} (no row in its batch's index, or no such column)",
  })
})

t.test(
  'an empty key cell leaves the file to the next index rule: one index for products, campaigns and quotes',
  async (t) => {
    const rules = compileMatchRules(
      flow([
        { type: 'index', object: 'Product2', key: { ProductCode: '{index.SKU}' } },
        { type: 'index', object: 'Campaign', key: { Name: '{index.Campaign}' } },
        { type: 'index', object: 'Quote', key: { Id: '{index.QuoteId}' } },
      ]).match,
    )
    const row = (cells: Record<string, string>) => ({ SKU: '', Campaign: '', QuoteId: '', ...cells })
    t.match(extractMatchKey({ name: 'a.jpg', relativeDir: '', index: row({ SKU: 'W-100' }) }, rules), {
      ok: true,
      key: { ruleIndex: 0, object: 'Product2', fields: { ProductCode: 'W-100' } },
    })
    t.match(
      extractMatchKey({ name: 'b.pdf', relativeDir: '', index: row({ Campaign: 'Spring 2027' }) }, rules),
      {
        ok: true,
        key: { ruleIndex: 1, object: 'Campaign', fields: { Name: 'Spring 2027' } },
      },
    )
    t.match(
      extractMatchKey({ name: 'c.pdf', relativeDir: '', index: row({ QuoteId: '0Q0000000000001' }) }, rules),
      { ok: true, key: { ruleIndex: 2, kind: 'id', object: 'Quote', id: '0Q0000000000001' } },
    )
    t.match(extractMatchKey({ name: 'd.pdf', relativeDir: '', index: row({}) }, rules), {
      ok: false,
      code: 'NO_MATCHING_RECORD',
      message: /key ProductCode is empty in the index row of d\.pdf/,
    })
  },
)
