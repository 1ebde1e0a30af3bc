// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are ${VAR} references, not templates.
/**
 * trigger.pubsub in the configuration, refused by key path where the schema
 * alone cannot say: a Platform Event trigger needs recordIdField or
 * fileIdField, a change event (/data/ channel) names its records itself and
 * refuses both, and changedFields belongs to change events only.
 */
import t from 'tap'
import { ConfigError, parseConfig } from '../../src/config/load.js'

function config(flows: unknown[]) {
  return {
    server: { apiKeys: ['${API_KEY}'] },
    store: { sqlitePath: '/tmp/never-opened.sqlite' },
    salesforce: {
      loginUrl: 'https://login.example.test',
      auth: { type: 'client_credentials', clientId: 'id', clientSecret: 'secret' },
    },
    sdrive: { s3UploadUrl: 'https://s3.example.test/bucket' },
    endpoints: { bank: { protocol: 'ftp', host: 'bank.example.test', username: 'u', password: 'p' } },
    flows,
  }
}

const flow = (name: string, pubsub: Record<string, unknown>) => ({
  name,
  kind: 'outbound',
  source: { object: 'Opportunity', fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
  destination: { endpoint: 'bank', directory: '/out' },
  trigger: { pubsub },
})

const env = { API_KEY: 'api-key-0123456789abcdef' }

function issuesOf(flows: unknown[]): Record<string, string> {
  try {
    parseConfig(JSON.stringify(config(flows)), 'json', env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return Object.fromEntries(error.issues.map((i) => [i.path, i.message]))
  }
  return {}
}

t.test('valid Platform Event and change event triggers load, with defaults', async (t) => {
  const loaded = parseConfig(
    JSON.stringify(
      config([
        flow('pe', { topic: '/event/SDrive_Export__e', recordIdField: 'Record_Id__c' }),
        flow('pe-file', { topic: '/event/SDrive_Export__e', fileIdField: 'File_Id__c' }),
        flow('cdc', {
          topic: '/data/OpportunityChangeEvent',
          changedFields: [{ field: 'StageName', equals: 'Closed Won' }],
        }),
      ]),
    ),
    'json',
    env,
  )
  const triggers = loaded.flows.map(
    (f) => (f as { trigger?: { pubsub?: Record<string, unknown> } }).trigger?.pubsub,
  )
  t.match(triggers[0], { topic: '/event/SDrive_Export__e', startAt: 'LATEST', batchSize: 50 })
  t.match(triggers[2], { changedFields: [{ field: 'StageName', equals: 'Closed Won' }] })
})

t.test('each misconfiguration is reported at its key path', async (t) => {
  const issues = issuesOf([
    flow('pe-nothing', { topic: '/event/SDrive_Export__e', metadataFields: ['Batch__c'] }),
    flow('cdc-record', { topic: '/data/OpportunityChangeEvent', recordIdField: 'Id' }),
    flow('cdc-file', { topic: '/data/OpportunityChangeEvent', fileIdField: 'File_Id__c' }),
    flow('pe-changes', {
      topic: '/event/SDrive_Export__e',
      recordIdField: 'Record_Id__c',
      changedFields: [{ field: 'StageName' }],
    }),
    flow('good', { topic: '/event/SDrive_Export__e', recordIdField: 'Record_Id__c' }),
  ])
  t.match(issues['flows[0].trigger.pubsub'], /needs recordIdField or fileIdField/)
  t.match(issues['flows[1].trigger.pubsub.recordIdField'], /ChangeEventHeader\.recordIds/)
  t.match(issues['flows[2].trigger.pubsub.fileIdField'], /ChangeEventHeader\.recordIds/)
  t.match(issues['flows[3].trigger.pubsub.changedFields'], /only change events/)
  t.same(
    Object.keys(issues).filter((p) => p.startsWith('flows[4]')),
    [],
    'the valid flow draws no issue',
  )
  t.equal(Object.keys(issues).length, 4, 'one issue per mistake')
})

t.test('the schema refuses a topic that is neither channel kind and a bad filter, by key path', async (t) => {
  const issues = issuesOf([
    flow('bad-topic', { topic: '/topic/Whatever', recordIdField: 'Record_Id__c' }),
    flow('bad-filter', { topic: '/data/AccountChangeEvent', changedFields: [] }),
  ])
  t.ok(
    Object.keys(issues).some((p) => p.startsWith('flows[0].trigger.pubsub.topic')),
    JSON.stringify(issues),
  )
  t.ok(
    Object.keys(issues).some((p) => p.startsWith('flows[1].trigger.pubsub.changedFields')),
    JSON.stringify(issues),
  )
})
