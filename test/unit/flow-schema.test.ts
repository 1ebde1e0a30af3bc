import t from 'tap'
import type { InboundFlow } from '../../src/config/schema.js'
import { fieldSet, flowSchemaNeeds, neededObjects, schemaProblems } from '../../src/domain/flow-schema.js'

const flow = (match: unknown[], target: Record<string, unknown> = {}) =>
  ({
    name: 'f',
    kind: 'inbound',
    match,
    target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c', ...target },
  }) as unknown as InboundFlow

const org = new Map([
  ['Account', fieldSet(['Id', 'Name', 'AccountNumber'])],
  ['Opportunity', fieldSet(['Id', 'Name'])],
  ['cg__AccountFile__c', fieldSet(['Id', 'cg__Account__c'])],
])

const problems = (f: InboundFlow) =>
  schemaProblems(flowSchemaNeeds(f, 3), org).map((p) => `${p.path}: ${p.message}`)

t.test('a configuration whose names all exist has no problems (names compare in any case)', async (t) => {
  const f = flow([
    { type: 'filename', pattern: '^(?<accountnumber>\\d+)_(?<Name>.+)\\.pdf$', object: 'Account' },
    { type: 'folder', template: 'acc/{AccountNumber}', object: 'Account' },
  ])
  t.same(problems(f), [])
  t.same(neededObjects(flowSchemaNeeds(f, 3)).sort(), ['Account', 'cg__AccountFile__c'])
})

t.test('a recordId rule’s groups are not fields; only its object is checked', async (t) => {
  t.same(
    problems(flow([{ type: 'recordId', pattern: '^(?<prefix>x)(?<id>\\w{18})', object: 'Opportunity' }])),
    [],
  )
})

t.test('each wrong name is reported once, at its key path', async (t) => {
  const f = flow(
    [
      { type: 'filename', pattern: '^(?<AccountNumbr>\\d+)_(?<AccountNumbr2>\\d+)?', object: 'Account' },
      { type: 'filename', pattern: '^(?<n>\\d+)', object: 'Account', fields: { n: 'AcctNo' } },
      { type: 'folder', template: '{Region__c}/{AccountNumber}', object: 'Account' },
      { type: 'recordId', object: 'Opportunity', target: { parentField: 'cg__Opportunity__c' } },
    ],
    {},
  )
  t.same(problems(f), [
    'flows[3].match[0].pattern: named group "AccountNumbr" is not a field of Account',
    'flows[3].match[0].pattern: named group "AccountNumbr2" is not a field of Account',
    'flows[3].match[1].fields.n: "AcctNo" (group "n") is not a field of Account',
    'flows[3].match[2].template: "{Region__c}" is not a field of Account',
    'flows[3].match[3].target.parentField: parent field "cg__Opportunity__c" is not a field of cg__AccountFile__c',
  ])
})

t.test('an object the org does not have', async (t) => {
  const described = new Map([...org, ['Acount', null]])
  const f = flow([{ type: 'filename', pattern: '^(?<AccountNumber>\\d+)', object: 'Acount' }])
  t.same(
    schemaProblems(flowSchemaNeeds(f, 0), described).map((p) => p.path),
    ['flows[0].match[0].object'],
    'said where the object is named; its fields are not judged',
  )
})
