/**
 * `metadata` (POST /v1/exports) and `notify` (POST /v1/flows/{flow}/rejections)
 * are documented as lists of {key, value} (External Services cannot offer a
 * map-typed input in Flow Builder) while the map form older clients send is
 * still accepted. Over a real socket: both forms reach the service as the same
 * values, validation still refuses what it refused, and a key given twice is a 400.
 */
import t from 'tap'
import { type Harness, sdriveFiles, startHarness } from '../support/harness.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

const exportFlow = (endpoint: string) => ({
  name: 'contracts',
  kind: 'outbound',
  source: { object: 'Opportunity', fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
  destination: { endpoint, directory: '/outbox/{metadata.batch}', fileName: '{metadata.prefix}_{file.name}' },
  retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
})

const reviewFlow = (endpoint: string) => ({
  name: 'artwork',
  kind: 'inbound',
  source: { endpoint, directory: '/artwork/inbox', include: ['*.png'] },
  readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 60 },
  match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
  target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
  existing: 'skip',
  after: { success: 'move', processedDirectory: '/artwork/processed', errorDirectory: '/artwork/errors' },
  retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
  review: { dropZone: { directory: '/artwork/rejected/{record.id}' } },
})

async function seedOpportunity(h: Harness, name: string, file: string): Promise<string> {
  const opp = h.sandbox.insert('Opportunity', { Name: name, StageName: 'Closed Won' })
  await seedSDriveFiles(
    h.server.bridge.sdrive,
    { parentId: opp, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
    [{ name: file, content: `content of ${file}` }],
  )
  return opp
}

t.test('key/value lists, and the map form kept for older clients', async (t) => {
  const h = await startHarness({ protocol: 'sftp', flows: (e) => [exportFlow(e), reviewFlow(e)] })
  t.teardown(() => h.close())

  t.test('exports: the list and the map form make the same job and the same file names', async (t) => {
    const listOpp = await seedOpportunity(h, 'List Deal', 'list.pdf')
    const list = await h.api('POST', '/v1/exports', {
      body: {
        flow: 'contracts',
        recordIds: [listOpp],
        metadata: [
          { key: 'batch', value: 'b1' },
          { key: 'prefix', value: 'L' },
        ],
      },
      headers: { 'idempotency-key': 'kv-list' },
    })
    t.equal(list.status, 202, JSON.stringify(list.json))
    const mapOpp = await seedOpportunity(h, 'Map Deal', 'map.pdf')
    const map = await h.api('POST', '/v1/exports', {
      body: { flow: 'contracts', recordIds: [mapOpp], metadata: { batch: 'b1', prefix: 'M' } },
      headers: { 'idempotency-key': 'kv-map' },
    })
    t.equal(map.status, 202, JSON.stringify(map.json))
    await h.server.bridge.exports.settled(list.json.jobId)
    await h.server.bridge.exports.settled(map.json.jobId)
    t.same(await h.list('outbox/b1'), ['L_list.pdf', 'M_map.pdf'], 'both forms fill {metadata.*}')

    const sameAsMap = await h.api('POST', '/v1/exports', {
      body: {
        flow: 'contracts',
        recordIds: [mapOpp],
        metadata: [
          { key: 'prefix', value: 'M' },
          { key: 'batch', value: 'b1' },
        ],
      },
      headers: { 'idempotency-key': 'kv-map' },
    })
    t.equal(sameAsMap.status, 202)
    t.equal(sameAsMap.json.jobId, map.json.jobId, 'the list form of the same pairs is the same request')
    t.equal(sameAsMap.json.created, false)
  })

  t.test('exports: what validation refused in the map form it still refuses, in both forms', async (t) => {
    const opp = '006000000000001AAA'
    const refused = async (metadata: unknown, pattern: RegExp) => {
      const res = await h.api('POST', '/v1/exports', {
        body: { flow: 'contracts', recordIds: [opp], metadata },
      })
      t.equal(res.status, 400, JSON.stringify(metadata))
      t.equal(res.json.error.code, 'VALIDATION_FAILED')
      t.match(res.json.error.message, pattern)
    }
    await refused({ 'bad key': 'x' }, /metadata/)
    await refused([{ key: 'bad key', value: 'x' }], /metadata/)
    await refused({ n: 5 }, /metadata/)
    await refused([{ key: 'n', value: 5 }], /metadata/)
    await refused({ long: 'x'.repeat(1001) }, /metadata/)
    await refused('batch=b1', /metadata/)
    await refused([{ key: 'k' }], /metadata/)
    await refused(
      [
        { key: 'k', value: '1' },
        { key: 'k', value: '2' },
      ],
      /body\.metadata: the key k is given more than once/,
    )
    await refused([{ key: '__proto__', value: '1' }], /body\.metadata: the key __proto__ is not allowed/)
  })

  t.test('rejections: notify in either form is kept with the rejection', async (t) => {
    const acme = h.sandbox.insert('Account', { Name: 'Acme', AccountNumber: 'ACME-001' })
    await h.put('artwork/inbox/ACME-001_a.png', 'a v1')
    await h.put('artwork/inbox/ACME-001_b.png', 'b v1')
    const run = await h.runAndWait('artwork')
    t.equal(run.counts?.done, 2, JSON.stringify(run))
    const fileId = (name: string) => sdriveFiles(h.sandbox).find((f) => f.cg__File_Name__c === name)?.Id
    const reject = async (name: string, notify: unknown) => {
      const res = await h.api('POST', '/v1/flows/artwork/rejections', {
        body: { fileId: fileId(name), reasonCode: 'LOW_RESOLUTION', reason: 'At least 300 dpi.', notify },
      })
      t.equal(res.status, 202, JSON.stringify(res.json))
      await h.server.bridge.reviews.settled(res.json.correlationId)
      const note = `artwork/rejected/${acme}/${res.json.returnedName}.rejected.json`
      return JSON.parse(await h.read(note)).notify
    }
    t.same(await reject('ACME-001_a.png', { contact: 'art-team', case: '42' }), {
      contact: 'art-team',
      case: '42',
    })
    t.same(
      await reject('ACME-001_b.png', [
        { key: 'contact', value: 'art-team' },
        { key: 'case', value: '42' },
      ]),
      { contact: 'art-team', case: '42' },
    )
  })

  t.test('rejections: the service checks notify.channel the same in both forms', async (t) => {
    for (const notify of [{ channel: 'nope' }, [{ key: 'channel', value: 'nope' }]]) {
      const res = await h.api('POST', '/v1/flows/artwork/rejections', {
        body: { fileId: 'a0B000000000001AAA', reasonCode: 'X', reason: 'x', notify },
      })
      t.equal(res.status, 400, JSON.stringify(notify))
      t.match(res.json.error.message, /^body\.notify\.channel: unknown channel "nope"/)
    }
    const twice = await h.api('POST', '/v1/flows/artwork/rejections', {
      body: {
        fileId: 'a0B000000000001AAA',
        reasonCode: 'X',
        reason: 'x',
        notify: [
          { key: 'case', value: '1' },
          { key: 'case', value: '2' },
        ],
      },
    })
    t.equal(twice.status, 400)
    t.equal(twice.json.error.message, 'body.notify: the key case is given more than once')
  })
})
