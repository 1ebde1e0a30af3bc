import t from 'tap'
import { checkConfig } from '../../src/config/checks.js'
import { fileFieldValues } from '../../src/domain/file-fields.js'

const context = {
  flow: 'catalogue',
  fileName: 'SKU-12_spec_de.pdf',
  recordId: '01t000000000001AAA',
  date: '2026-12-03',
  captures: { ProductCode: 'SKU-12', type: 'spec', lang: 'de', pages: '12' },
}

t.test('templates render from captures and the run, then are typed', async (t) => {
  t.same(
    fileFieldValues(
      {
        Document_Type__c: { value: '{type}', type: 'picklist', values: ['spec', 'photo'] },
        Language__c: '{lang}',
        Description__c: 'Spec sheet {ProductCode} ({file.stem}{file.ext}, {flow}, {date})',
        Page_Count__c: { value: '{pages}', type: 'integer' },
        Reviewed__c: { value: 'yes', type: 'boolean' },
        Record__c: '{record.id}',
      },
      context,
    ),
    {
      ok: true,
      values: {
        Document_Type__c: 'spec',
        Language__c: 'de',
        Description__c: 'Spec sheet SKU-12 (SKU-12_spec_de.pdf, catalogue, 2026-12-03)',
        Page_Count__c: 12,
        Reviewed__c: true,
        Record__c: '01t000000000001AAA',
      },
    },
  )
})

t.test('an empty value clears the field whatever its type', async (t) => {
  const outcome = fileFieldValues(
    { Due__c: { value: '{empty}', type: 'date' } },
    {
      ...context,
      captures: { empty: '' },
    },
  )
  t.same(outcome, { ok: true, values: { Due__c: null } })
})

t.test('a value that is not its type fails with FIELD_VALUE_INVALID naming the field', async (t) => {
  t.same(fileFieldValues({ Page_Count__c: { value: '{type}', type: 'number' } }, context), {
    ok: false,
    code: 'FIELD_VALUE_INVALID',
    message:
      'field Page_Count__c: "spec" is not a number (digits, an optional "." for decimals, no thousands separators)',
  })
  const picklist = fileFieldValues(
    { Document_Type__c: { value: '{type}', type: 'picklist', values: ['photo'] } },
    context,
  )
  t.match(picklist, {
    ok: false,
    message: /Document_Type__c: "spec" is not one of the allowed values \(photo\)/,
  })
  const long = fileFieldValues({ Code__c: { value: '{ProductCode}', type: 'string', maxLength: 3 } }, context)
  t.match(long, { ok: false, message: /is 6 characters long, more than the 3 allowed/ })
})

t.test('a placeholder the matching rule did not capture fails the file, not the process', async (t) => {
  t.same(fileFieldValues({ Language__c: '{region}' }, context), {
    ok: false,
    code: 'FIELD_VALUE_INVALID',
    message: 'field Language__c: the rule that matched SKU-12_spec_de.pdf has no {region}',
  })
})

const configWith = (flow: Record<string, unknown>) => ({
  endpoints: { partner: { protocol: 'sftp', host: 'h', username: 'u', password: 'p' } },
  flows: [
    {
      name: 'catalogue',
      kind: 'inbound',
      source: { endpoint: 'partner', directory: '/in' },
      target: { fileObject: 'cg__ProductFile__c', parentField: 'cg__Product__c' },
      after: { success: 'delete', errorDirectory: '/errors' },
      ...flow,
    },
  ],
})
const issuesOf = (flow: Record<string, unknown>) =>
  checkConfig(configWith(flow))
    .filter((i) => i.path.startsWith('flows'))
    .map((i) => `${i.path}: ${i.message}`)

t.test(
  'configuration: placeholders, picklists and lookup lists are checked with their key paths',
  async (t) => {
    const filename = {
      type: 'filename',
      pattern: '^(?<ProductCode>[A-Z]+-\\d+)_(?<type>[a-z]+)_',
      object: 'Product2',
      lookup: ['ProductCode'],
    }
    const folder = {
      type: 'folder',
      template: 'products/{ProductCode}/{lang}',
      object: 'Product2',
      lookup: ['ProductCode'],
    }
    t.same(
      issuesOf({
        match: [filename, folder],
        target: {
          fileObject: 'cg__ProductFile__c',
          parentField: 'cg__Product__c',
          fields: { Document_Type__c: '{type}', Language__c: { value: '{lang}', type: 'picklist' } },
        },
      }),
      [
        'flows[0].target.fields.Document_Type__c: unknown placeholder {type}: not captured by every rule this applies to (known: {flow}, {file.name}, {file.stem}, {file.ext}, {record.id}, {date}, {ProductCode})',
        'flows[0].target.fields.Language__c.value: unknown placeholder {lang}: not captured by every rule this applies to (known: {flow}, {file.name}, {file.stem}, {file.ext}, {record.id}, {date}, {ProductCode})',
        'flows[0].target.fields.Language__c.values: required for a picklist field',
      ],
    )
    t.same(
      issuesOf({
        match: [filename, { ...folder, target: { fields: { Language__c: '{lang}' } } }],
        target: {
          fileObject: 'cg__ProductFile__c',
          parentField: 'cg__Product__c',
          fields: { Document_Type__c: '{type}' },
        },
      }),
      [],
      "a rule with its own fields takes the flow's place, so only the other rules must capture {type}",
    )
    t.same(
      issuesOf({
        match: [
          { ...filename, lookup: ['Code'] },
          { ...folder, lookup: ['sku'] },
        ],
      }),
      [
        'flows[0].match[0].lookup[0]: the rule has no group named "Code"',
        'flows[0].match[1].lookup[0]: the rule has no {sku} segment',
      ],
    )
    t.same(
      issuesOf({ match: [{ ...filename, pattern: '^(?<ProductCode>[A-Z]+-\\d+)_(?<doc-type>[a-z]+)_' }] })
        .length,
      1,
      'only the lookup groups must be field names, but every group must compile',
    )
  },
)
