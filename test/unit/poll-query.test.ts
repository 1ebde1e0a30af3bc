/**
 * The polling trigger's pure parts: the `where` condition must stay one
 * condition (no clause or statement smuggled into the query built around
 * it), the query's shape, the job key, the claim check, the request.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse } from 'yaml'
import { parseConfig } from '../../src/config/load.js'
import {
  claimCheckQueries,
  claimHolds,
  type PollSpec,
  pollJobKey,
  pollQuery,
  pollRequestOf,
  pollWhereProblem,
} from '../../src/domain/poll-query.js'

const spec: PollSpec = {
  object: 'Opportunity',
  where: "Export_Status__c = 'Requested'",
  claim: { Export_Status__c: 'Queued' },
  limit: 2000,
  recordIdField: 'Id',
}

t.test('where: one condition expression is accepted', async (t) => {
  for (const where of [
    "Export_Status__c = 'Requested'",
    "Export_Status__c = 'Requested' AND (StageName = 'Closed Won' OR Amount > 1000)",
    "Name LIKE '%LIMIT 1%' AND Description__c != 'ORDER BY Id'",
    "Name = 'it\\'s (not) closed'",
    "AccountId IN (SELECT Id FROM Account WHERE Type = 'Customer')",
    'CloseDate = LAST_N_DAYS:30',
    'Account.Owner.IsActive = true',
  ]) {
    t.equal(pollWhereProblem(where), null, where)
  }
})

t.test('where: clauses, statements and unbalanced text are refused', async (t) => {
  const refused: [string, RegExp][] = [
    ["Export_Status__c = 'Requested' LIMIT 1", /LIMIT is not allowed/],
    ["Export_Status__c = 'Requested' ORDER BY Name", /ORDER is not allowed/],
    ["Export_Status__c = 'Requested') OR (Id != null", /closes more than was opened/],
    ["(Export_Status__c = 'Requested'", /not closed/],
    ["Export_Status__c = 'Requested", /string literal is not closed/],
    ["Name = 'a'; DELETE", /";" has no place/],
    ["Name = 'a' FOR UPDATE", /FOR is not allowed/],
    ['AccountId IN (SELECT Id FROM Account LIMIT 5)', /LIMIT is not allowed/],
    ['Id != null GROUP BY Name', /GROUP is not allowed/],
    ['Id != null OFFSET 10', /OFFSET is not allowed/],
    ["Name = 'x' FROM Account", /FROM is only allowed inside/],
    ['   ', /empty/],
  ]
  for (const [where, problem] of refused) t.match(pollWhereProblem(where), problem, where)
})

t.test('the query: the condition in its own parentheses, stamp order, a limit', async (t) => {
  t.equal(
    pollQuery({ ...spec, fileIdField: 'File_Id__c', metadataFields: ['Name', 'Id'] }, 150),
    "SELECT Id, SystemModstamp, Export_Status__c, File_Id__c, Name FROM Opportunity WHERE (Export_Status__c = 'Requested') ORDER BY SystemModstamp ASC, Id ASC LIMIT 150",
  )
  const [check] = claimCheckQueries(spec, ['006000000000001AAA', '006000000000002AAA'])
  t.equal(
    check,
    "SELECT Id, SystemModstamp, Export_Status__c FROM Opportunity WHERE Id IN ('006000000000001AAA','006000000000002AAA')",
  )
  t.same(claimCheckQueries(spec, []), [], 'no ids, no query')
})

t.test('the job key: same record and stamp, same key; a new request, a new key', async (t) => {
  const key = pollJobKey('f', '006000000000001AAA', '2026-01-01T00:00:00.000+0000')
  t.equal(key, pollJobKey('f', '006000000000001AAA', '2026-01-01T00:00:00.000+0000'))
  t.not(key, pollJobKey('f', '006000000000001AAA', '2026-01-02T00:00:00.000+0000'), 'requested again later')
  t.not(key, pollJobKey('g', '006000000000001AAA', '2026-01-01T00:00:00.000+0000'), 'another flow')
  t.match(key, /^poll:006000000000001AAA:[0-9a-f]{32}$/)
})

t.test('claim check and the request a record makes', async (t) => {
  t.ok(claimHolds({ Export_Status__c: 'Queued' }, spec.claim))
  t.notOk(claimHolds({ Export_Status__c: 'Requested' }, spec.claim))
  t.ok(claimHolds({ Flag__c: true, N__c: 2, Gone__c: null }, { Flag__c: true, N__c: 2, Gone__c: null }))
  t.notOk(claimHolds({ Gone__c: 'x' }, { Gone__c: null }))
  t.same(pollRequestOf({ Id: '006000000000001AAA' }, spec), { recordIds: ['006000000000001AAA'] })
  t.same(
    pollRequestOf(
      {
        Id: 'a00000000000001AAA',
        Opportunity__c: '006000000000001AAA',
        File__c: 'a01000000000001AAA',
        Name: 'R-1',
      },
      {
        ...spec,
        recordIdField: 'Opportunity__c',
        fileIdField: 'File__c',
        metadataFields: ['Name', 'Missing__c'],
      },
    ),
    { recordIds: ['006000000000001AAA'], fileIds: ['a01000000000001AAA'], metadata: { Name: 'R-1' } },
  )
  t.same(
    pollRequestOf(
      { Id: 'a00000000000001AAA', Opportunity__r: { AccountId: '001000000000001AAA' } },
      { ...spec, recordIdField: 'Opportunity__r.AccountId' },
    ),
    { recordIds: ['001000000000001AAA'] },
    'a parent field is read from the nested answer',
  )
  t.equal(
    pollRequestOf({ Id: 'x', Opportunity__c: null }, { ...spec, recordIdField: 'Opportunity__c' }),
    null,
  )
})

const fixture = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bridge.example.yaml')
const env = {
  BRIDGE_API_KEY: 'k3y-0123456789abcdef-k3y',
  SF_CLIENT_ID: '3MVG9-example-client-id',
  SF_CLIENT_SECRET: 'example-client-secret',
  PARTNER_SFTP_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
  PARTNER_SFTP_PASSPHRASE: 'correct horse',
  SCANNER_FTP_PASSWORD: 'scanner-pass',
  BANK_FTPS_PASSWORD: 'bank-pass',
  BANK_SFTP_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nBBBB\n-----END OPENSSH PRIVATE KEY-----\n',
  OM_SECRET: 'om-secret-0123456789abcdef',
}

/** The example configuration with trigger.poll on its outbound flow (flows[3]). */
function configWith(poll: Record<string, unknown>): string {
  const data = parse(readFileSync(fixture, 'utf8')) as { flows: Record<string, unknown>[] }
  const flow = data.flows[3] as Record<string, unknown>
  flow.trigger = { poll }
  return JSON.stringify(data)
}

t.test('config: trigger.poll with defaults, and key-path errors', async (t) => {
  const config = parseConfig(
    configWith({
      object: 'Opportunity',
      where: "Export_Status__c = 'Requested'",
      claim: { Export_Status__c: 'Queued' },
    }),
    'json',
    env,
  )
  const flow = config.flows[3]
  t.equal(flow?.kind, 'outbound')
  if (flow?.kind !== 'outbound') return
  t.match(flow.trigger?.poll, { every: '5m', limit: 2000, recordIdField: 'Id' }, 'defaults applied')

  const issues = (poll: Record<string, unknown>): string => {
    try {
      parseConfig(configWith(poll), 'json', env)
      return ''
    } catch (error) {
      return (error as Error).message
    }
  }
  const base = { object: 'Opportunity', where: "A__c = 'x'", claim: { A__c: 'y' } }
  t.match(
    issues({ ...base, where: "A__c = 'x' LIMIT 1" }),
    /flows\[3\]\.trigger\.poll\.where: not one SOQL condition/,
  )
  t.match(issues({ ...base, every: 'often' }), /flows\[3\]\.trigger\.poll\.every: "often" is not a duration/)
  t.match(issues({ ...base, every: '500ms' }), /flows\[3\]\.trigger\.poll\.every: must be at least 1s/)
  t.match(issues({ ...base, claim: {} }), /flows\[3\]\.trigger\.poll\.claim/)
  t.match(issues({ ...base, claim: { Id: 'x' } }), /flows\[3\]\.trigger\.poll\.claim\.Id: the record id/)
  t.match(issues({ ...base, object: 'Opp; DROP' }), /flows\[3\]\.trigger\.poll\.object/)
  t.match(issues({ ...base, limit: 0 }), /flows\[3\]\.trigger\.poll\.limit/)
  t.match(issues({ ...base, extra: 1 }), /flows\[3\]\.trigger\.poll/)
})
