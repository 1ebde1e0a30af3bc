/**
 * Outbound Message ids and API Idempotency-Keys (issue 18, item 4), over real
 * sockets: a client cannot take the service's keys, keys an older version
 * stored (the service's and a client's) keep their meaning after an upgrade,
 * a notification id repeated in one message is recorded once, and a server
 * fault never carries the internal error's text.
 */
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { exportRequestHash } from '../../src/flows/outbound/request.js'
import { type Harness, OPPORTUNITY_SOURCE, startHarness } from '../support/harness.js'

const ORG = '00D000000000001AAA'
const OM_SECRET = 'om-secret-0123456789abcdef'

function outboundFlow(endpoint: string) {
  return {
    name: 'contracts',
    kind: 'outbound',
    source: { ...OPPORTUNITY_SOURCE },
    destination: { endpoint, directory: '/outbox', fileName: '{Name}_{file.name}' },
    outboundMessages: { organizationIds: [ORG], secret: OM_SECRET },
  }
}

function inboundFlow(endpoint: string) {
  return {
    name: 'bulk',
    kind: 'inbound',
    source: { endpoint, directory: '/inbox' },
    match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
    target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
    readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
    after: { success: 'move', processedDirectory: '/processed', errorDirectory: '/errors' },
  }
}

function envelope(notifications: { id: string; recordId: string }[]): string {
  return (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>' +
    '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">' +
    `<OrganizationId>${ORG}</OrganizationId><ActionId>04k000000000001AAA</ActionId>` +
    `<EnterpriseUrl>https://example.my.salesforce.com/c/${ORG}</EnterpriseUrl>` +
    `<PartnerUrl>https://example.my.salesforce.com/u/${ORG}</PartnerUrl>` +
    notifications
      .map(
        (n) =>
          `<Notification><Id>${n.id}</Id><sObject xsi:type="sf:Opportunity" ` +
          `xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>${n.recordId}</sf:Id></sObject></Notification>`,
      )
      .join('') +
    '</notifications></soapenv:Body></soapenv:Envelope>'
  )
}

async function soap(h: Harness, body: string) {
  const res = await fetch(`${h.url}/v1/outbound-messages/contracts?secret=${OM_SECRET}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', SOAPAction: '""' },
    body,
  })
  return { status: res.status, text: await res.text() }
}

/** The jobs Outbound Messages created, with the record each exports. */
async function outboundMessageJobs(h: Harness) {
  const jobs = (await h.api('GET', '/v1/jobs?flow=contracts&limit=200')).json.jobs as {
    id: string
    trigger: string
  }[]
  const mine = jobs.filter((j) => j.trigger === 'outbound-message')
  return Promise.all(
    mine.map(async (j) => {
      const run = await h.server.bridge.store.getRun(j.id)
      return { id: j.id, recordIds: ((run?.request ?? {}) as { recordIds: string[] }).recordIds }
    }),
  )
}

const opportunity = (h: Harness, name: string) =>
  h.sandbox.insert('Opportunity', { Name: name, StageName: 'Closed Won' })

t.test('idempotency keys: the service and its clients', async (t) => {
  const h = await startHarness({ protocol: 'sftp', flows: (e) => [outboundFlow(e), inboundFlow(e)] })
  t.teardown(() => h.close())
  // The harness's default store, beside the remote root.
  const sqlitePath = join(dirname(h.remoteRoot), 'bridge.sqlite')

  t.test('a client key with a reserved prefix is a 400 naming the header', async (t) => {
    const record = opportunity(h, 'Reserved')
    for (const key of ['outbound-message:contracts:04l000000000000001', 'schedule:bulk:2026-12-03T04:00']) {
      const exportAnswer = await h.api('POST', '/v1/exports', {
        body: { flow: 'contracts', recordIds: [record] },
        headers: { 'idempotency-key': key },
      })
      t.equal(exportAnswer.status, 400, `POST /v1/exports with ${key}`)
      t.equal(exportAnswer.json.error.code, 'IDEMPOTENCY_KEY_RESERVED')
      t.match(exportAnswer.json.error.message, /^headers\.idempotency-key: /)
      t.equal(exportAnswer.json.error.details.field, 'headers.idempotency-key')
      const runAnswer = await h.api('POST', '/v1/flows/bulk/runs', { headers: { 'idempotency-key': key } })
      t.equal(runAnswer.status, 400, `POST /v1/flows/bulk/runs with ${key}`)
      t.equal(runAnswer.json.error.code, 'IDEMPOTENCY_KEY_RESERVED')
    }
    t.same(await outboundMessageJobs(h), [], 'nothing was stored')
    // The notification whose key was tried is recorded normally.
    const answer = await soap(h, envelope([{ id: '04l000000000000001', recordId: record }]))
    t.equal(answer.status, 200)
    t.equal((await outboundMessageJobs(h)).length, 1)
  })

  t.test('keys stored by an older version keep their meaning', async (t) => {
    const store = h.server.bridge.store
    const clientRecord = opportunity(h, 'Client before upgrade')
    const notifiedRecord = opportunity(h, 'Notified before upgrade')
    // What the older version stored: a client's request under a service key, and a notification's own job.
    const planted = await store.createRun({
      flow: 'contracts',
      trigger: 'api',
      idempotencyKey: 'outbound-message:contracts:04l000000000000002',
      requestHash: 'a client request',
      request: { recordIds: [clientRecord] },
    })
    const notifiedRequest = {
      recordIds: [notifiedRecord],
      metadata: {
        notificationId: '04l000000000000003',
        actionId: '04k000000000001AAA',
        sObjectType: 'Opportunity',
      },
    }
    const before = await store.createRun({
      flow: 'contracts',
      trigger: 'outbound-message',
      idempotencyKey: 'outbound-message:contracts:04l000000000000003',
      requestHash: exportRequestHash('contracts', notifiedRequest),
      request: notifiedRequest,
    })
    const jobsBefore = (await outboundMessageJobs(h)).length

    const redelivered = await soap(h, envelope([{ id: '04l000000000000003', recordId: notifiedRecord }]))
    t.equal(redelivered.status, 200, 'a notification recorded before the upgrade, delivered again: Ack')
    t.equal((await outboundMessageJobs(h)).length, jobsBefore, 'and no second job')

    const record = opportunity(h, 'Key taken by a client')
    for (let delivery = 1; delivery <= 2; delivery++) {
      const answer = await soap(h, envelope([{ id: '04l000000000000002', recordId: record }]))
      t.equal(answer.status, 200, `delivery ${delivery} of a notification whose key a client took: Ack`)
    }
    const jobs = await outboundMessageJobs(h)
    t.equal(jobs.length, jobsBefore + 1, 'recorded once, under a key of its own')
    t.same(
      jobs.find((j) => j.id !== before.run.id && j.recordIds[0] === record)?.recordIds,
      [record],
      'exporting the notified record',
    )
    t.equal((await store.getRun(planted.run.id))?.trigger, 'api', "the client's job is untouched")
  })

  t.test('a notification id twice in one message is recorded once and acknowledged', async (t) => {
    const first = opportunity(h, 'First occurrence')
    const second = opportunity(h, 'Second occurrence')
    const jobsBefore = (await outboundMessageJobs(h)).length
    const answer = await soap(
      h,
      envelope([
        { id: '04l000000000000004', recordId: first },
        { id: '04l000000000000004', recordId: second },
      ]),
    )
    t.equal(answer.status, 200)
    t.match(answer.text, /<Ack>true<\/Ack>/)
    const jobs = await outboundMessageJobs(h)
    t.equal(jobs.length, jobsBefore + 1, 'one job')
    t.ok(
      jobs.some((j) => j.recordIds[0] === first),
      'for the first occurrence',
    )
    t.notOk(
      jobs.some((j) => j.recordIds[0] === second),
      'the second is not exported',
    )
    // Delivered again later with the other record (the same id): still the same notification.
    const again = await soap(h, envelope([{ id: '04l000000000000004', recordId: second }]))
    t.equal(again.status, 200, 'a redelivery with other content is acknowledged')
    t.equal((await outboundMessageJobs(h)).length, jobsBefore + 1, 'and not recorded again')
  })

  t.test('a server fault carries no internal text', async (t) => {
    // An internal fault the service cannot foresee: the store's idempotency table is gone.
    const db = new Database(sqlitePath)
    db.exec('ALTER TABLE idempotency RENAME TO idempotency_gone')
    db.close()
    t.teardown(() => {
      const restore = new Database(sqlitePath)
      restore.exec('ALTER TABLE idempotency_gone RENAME TO idempotency')
      restore.close()
    })
    const record = opportunity(h, 'During the fault')
    const api = await h.api('POST', '/v1/exports', {
      body: { flow: 'contracts', recordIds: [record] },
      headers: { 'idempotency-key': 'approval-fault' },
    })
    t.equal(api.status, 500)
    t.same(api.json, { error: { code: 'INTERNAL', message: 'internal error' } }, 'the JSON API: code only')
    const om = await soap(h, envelope([{ id: '04l000000000000005', recordId: record }]))
    t.equal(om.status, 500)
    t.match(om.text, /<faultcode>soapenv:Server<\/faultcode><faultstring>internal error<\/faultstring>/)
    t.notMatch(om.text, /idempotency|table|SQLITE/i, 'the SOAP fault: nothing of the cause')
  })
})

t.test('a message larger than the room left in the queue', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    queue: { maxQueuedItems: 10 },
    flows: (e) => [{ ...outboundFlow(e), retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 } }],
  })
  t.teardown(() => h.close())
  const notifications = Array.from({ length: 30 }, (_, i) => ({
    id: `04l${String(i + 1).padStart(15, '0')}`,
    recordId: opportunity(h, `Queued ${i}`),
  }))
  const message = envelope(notifications)
  // The org is at its API limit: recorded jobs wait, unfinished, and hold the queue's room.
  h.sandbox.setApiUsage(1_000_000_000)
  const first = await soap(h, message)
  t.equal(first.status, 503, 'not room for all: a server fault, so Salesforce delivers again')
  t.match(first.text, /<faultstring>the service is busy; retry later<\/faultstring>/)
  t.equal((await outboundMessageJobs(h)).length, 10, 'what fitted is recorded')
  h.sandbox.setApiUsage(0)
  // Salesforce delivers again later; by then the jobs recorded so far have run.
  let deliveries = 1
  let answer = first
  while (answer.status !== 200 && deliveries < 10) {
    for (const job of await outboundMessageJobs(h)) await h.server.bridge.exports.settled(job.id)
    answer = await soap(h, message)
    deliveries++
  }
  t.equal(answer.status, 200, `acknowledged after ${deliveries} deliveries`)
  const jobs = await outboundMessageJobs(h)
  t.equal(jobs.length, 30, 'every notification recorded')
  t.equal(new Set(jobs.map((j) => j.recordIds[0])).size, 30, 'each once')
})
