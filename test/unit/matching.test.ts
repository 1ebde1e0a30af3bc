import t from 'tap'
import type { MatchRule } from '../../src/config/schema.js'
import {
  compileMatchRules,
  extractMatchKey,
  type MatchKey,
  planLookups,
  resolveMatch,
  ruleTarget,
} from '../../src/domain/matching.js'
import { toId18 } from '../../src/domain/record-ids.js'

const rules: MatchRule[] = [
  { type: 'folder', template: 'accounts/{AccountNumber}', object: 'Account' },
  {
    type: 'filename',
    pattern: '^INV-(?<OrderNumber>\\d+)_.*\\.pdf$',
    object: 'Order',
    target: { fileObject: 'cg__OrderFile__c', parentField: 'cg__Order__c' },
  },
  {
    type: 'filename',
    pattern: '^(?<acct>[A-Z]+-\\d+)_(?<site>[a-z]+)_',
    object: 'Account',
    fields: { acct: 'AccountNumber', site: 'Site' },
  },
  { type: 'recordId', object: 'Opportunity' },
]
const compiled = compileMatchRules(rules)
const flowTarget = { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' }

t.test('the first rule that recognises a file decides', async (t) => {
  t.same(extractMatchKey({ name: 'INV-1002_march.pdf', relativeDir: '' }, compiled), {
    ok: true,
    key: {
      kind: 'lookup',
      ruleIndex: 1,
      object: 'Order',
      fields: { OrderNumber: '1002' },
      captures: { OrderNumber: '1002' },
    },
  })
  t.same(extractMatchKey({ name: 'x.pdf', relativeDir: 'accounts/ACME-001' }, compiled), {
    ok: true,
    key: {
      kind: 'lookup',
      ruleIndex: 0,
      object: 'Account',
      fields: { AccountNumber: 'ACME-001' },
      captures: { AccountNumber: 'ACME-001' },
    },
  })
  t.same(
    extractMatchKey({ name: 'x.pdf', relativeDir: 'accounts/ACME-001/2024' }, compiled).ok,
    true,
    'deeper folders match the prefix',
  )
  t.same(extractMatchKey({ name: 'ACME-7_paris_deal.pdf', relativeDir: '' }, compiled), {
    ok: true,
    key: {
      kind: 'lookup',
      ruleIndex: 2,
      object: 'Account',
      fields: { AccountNumber: 'ACME-7', Site: 'paris' },
      captures: { acct: 'ACME-7', site: 'paris' },
    },
  })
  const id = toId18('006000000000123')
  t.same(extractMatchKey({ name: `contract ${id}.pdf`, relativeDir: '' }, compiled), {
    ok: true,
    key: { kind: 'id', ruleIndex: 3, object: 'Opportunity', id, captures: {} },
  })
})

t.test('an 18-char token with a wrong checksum is not taken for an id', async (t) => {
  const bad = `${'006000000000123'}AAB`
  const out = extractMatchKey({ name: `contract_${bad}.pdf`, relativeDir: '' }, compiled)
  t.equal(out.ok, false)
  if (!out.ok) t.equal(out.code, 'NO_MATCH_RULE')
})

t.test('no rule → NO_MATCH_RULE naming the file', async (t) => {
  const out = extractMatchKey({ name: 'holiday.jpg', relativeDir: '' }, compiled)
  t.same(out, { ok: false, code: 'NO_MATCH_RULE', message: 'no match rule recognises "holiday.jpg"' })
})

t.test('lookups are planned per object and field set, values deduplicated', async (t) => {
  const keys: MatchKey[] = [
    {
      kind: 'lookup' as const,
      ruleIndex: 0,
      object: 'Account',
      fields: { AccountNumber: 'B' },
      captures: {},
    },
    {
      kind: 'lookup' as const,
      ruleIndex: 0,
      object: 'Account',
      fields: { AccountNumber: 'A' },
      captures: {},
    },
    {
      kind: 'lookup' as const,
      ruleIndex: 0,
      object: 'Account',
      fields: { AccountNumber: 'A' },
      captures: {},
    },
    { kind: 'id' as const, ruleIndex: 3, object: 'Opportunity', id: '006000000000123', captures: {} },
    {
      kind: 'lookup' as const,
      ruleIndex: 2,
      object: 'Account',
      fields: { Site: 's', AccountNumber: 'C' },
      captures: {},
    },
  ]
  t.same(planLookups(keys), [
    { object: 'Account', fields: ['AccountNumber'], values: { AccountNumber: ['A', 'B'] } },
    { object: 'Opportunity', fields: ['Id'], values: { Id: ['006000000000123'] } },
    { object: 'Account', fields: ['AccountNumber', 'Site'], values: { AccountNumber: ['C'], Site: ['s'] } },
  ])
})

t.test('resolution: exactly one record, compared like SOQL compares', async (t) => {
  const results = new Map([
    [
      'Account',
      [
        { Id: '001000000000001AAA', AccountNumber: 'acme-001' },
        { Id: '001000000000002AAA', AccountNumber: 'TWIN' },
        { Id: '001000000000003AAA', AccountNumber: 'twin' },
      ],
    ],
    ['Opportunity', [{ Id: toId18('006000000000123') }]],
  ])
  const key = (v: string) => ({
    kind: 'lookup' as const,
    ruleIndex: 0,
    object: 'Account',
    fields: { AccountNumber: v },
    captures: { AccountNumber: v },
  })
  t.same(
    resolveMatch(key('ACME-001'), results),
    { ok: true, recordId: '001000000000001AAA' },
    'case-insensitive',
  )
  const accented = resolveMatch(key('ÁCME-001'), results)
  t.equal(accented.ok, false, 'accent-sensitive, as SOQL: Á is not A')
  const none = resolveMatch(key('NOPE'), results)
  t.equal(none.ok, false)
  if (!none.ok) t.equal(none.code, 'NO_MATCHING_RECORD')
  const two = resolveMatch(key('Twin'), results)
  t.equal(two.ok, false)
  if (!two.ok) {
    t.equal(two.code, 'AMBIGUOUS_RECORD')
    t.match(two.message, /2 records match/)
  }
  t.same(
    resolveMatch(
      { kind: 'id', ruleIndex: 3, object: 'Opportunity', id: '006000000000123', captures: {} },
      results,
    ),
    {
      ok: true,
      recordId: toId18('006000000000123'),
    },
    'a 15-char id in the name finds the 18-char record',
  )
})

t.test('rule target overrides the flow default', async (t) => {
  t.same(ruleTarget(compiled, 1, flowTarget), { fileObject: 'cg__OrderFile__c', parentField: 'cg__Order__c' })
  t.same(ruleTarget(compiled, 0, flowTarget), flowTarget)
})

t.test('lookup: only the listed groups and segments look the record up; every one is captured', async (t) => {
  const withExtras = compileMatchRules([
    {
      type: 'filename',
      pattern: '^(?<ProductCode>[A-Z]+-\\d+)_(?<type>[a-z]+)_(?<lang>[a-z]{2})\\.pdf$',
      object: 'Product2',
      lookup: ['ProductCode'],
    },
    {
      type: 'folder',
      template: 'catalogue/{ProductCode}/{lang}',
      object: 'Product2',
      lookup: ['ProductCode'],
    },
  ])
  t.same(extractMatchKey({ name: 'SKU-12_spec_de.pdf', relativeDir: '' }, withExtras), {
    ok: true,
    key: {
      kind: 'lookup',
      ruleIndex: 0,
      object: 'Product2',
      fields: { ProductCode: 'SKU-12' },
      captures: { ProductCode: 'SKU-12', type: 'spec', lang: 'de' },
    },
  })
  t.same(extractMatchKey({ name: 'photo.jpg', relativeDir: 'catalogue/SKU-9/fr' }, withExtras), {
    ok: true,
    key: {
      kind: 'lookup',
      ruleIndex: 1,
      object: 'Product2',
      fields: { ProductCode: 'SKU-9' },
      captures: { ProductCode: 'SKU-9', lang: 'fr' },
    },
  })
})
