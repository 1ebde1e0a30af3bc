/**
 * Notifications over real sockets: a sandbox inbound run with failed files
 * gives one signed webhook message and one emailSimple request to the org;
 * a message written but not delivered before the bridge stops is delivered
 * by the next start, once; two replicas on PostgreSQL deliver it once; a
 * 500 is retried and a 400 fails; the rate limit holds messages back; the
 * flow.no_success watchdog fires once per quiet period; rejections'
 * notify is delivered; no secret reaches the logs or the API.
 */
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import pg from 'pg'
import t, { type Test } from 'tap'
import { createSystemClock } from '../../src/adapters/clock/system-clock.js'
import { parseConfig } from '../../src/config/load.js'
import { createLogger } from '../../src/logging/logger.js'
import { verifyWebhook } from '../../src/notify/signature.js'
import type { Clock } from '../../src/ports/clock.js'
import type { WebhookDelivery } from '../../src/sandbox/salesforce/types.js'
import { startServer } from '../../src/server.js'
import {
  type Harness,
  type HarnessOptions,
  seedRecords,
  standardFlow,
  startHarness,
} from '../support/harness.js'

t.setTimeout(10 * 60_000)

const HOOK_SECRET = 'hook-secret-4f9c2a7d1e8b6053'
const pgUrl = process.env.BRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

interface NotificationJson {
  id: string
  channel: string
  channelType: string
  event: string
  state: string
  attempts: number
  destination: string
  lastError: { code: string; message: string } | null
  files: { path: string; code: string }[]
  more: number
}

/** Channels on the sandbox: a webhook receiver and the org's email. */
function notificationsConfig(h: { webhookUrl(name?: string): string }, extra: Record<string, unknown> = {}) {
  return {
    channels: {
      'ops-hook': { type: 'webhook', url: h.webhookUrl('ops'), secret: '${HOOK_SECRET}', timeoutMs: 5000 },
      admins: { type: 'salesforceEmail', to: ['ops@example.com', 'lead@example.com'] },
    },
    rules: [
      {
        on: ['run.failed', 'run.partially_failed', 'file.failed', 'job.failed'],
        flows: ['*'],
        channel: 'ops-hook',
      },
      { on: ['file.failed'], flows: ['partner-docs'], channel: 'admins' },
    ],
    pollIntervalMs: 50,
    retryBaseMs: 20,
    retryMaxMs: 100,
    ...extra,
  }
}

async function harnessWith(
  t: Test,
  notifications: (sandbox: { webhookUrl(name?: string): string }) => Record<string, unknown>,
  options: Partial<HarnessOptions> = {},
): Promise<Harness> {
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [standardFlow(endpoint)],
    env: { HOOK_SECRET },
    ...options,
    notifications,
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  return h
}

async function dropFiles(h: Harness, good: number, bad: number): Promise<void> {
  for (let i = 0; i < good; i++)
    await h.put(`inbox/ACME-001_doc-${String(i).padStart(3, '0')}.pdf`, `doc ${i}`)
  for (let i = 0; i < bad; i++) await h.put(`inbox/NOPE-99${i}_x.pdf`, `unmatched ${i}`)
}

async function outbox(h: Harness, query = ''): Promise<NotificationJson[]> {
  const res = await h.api('GET', `/v1/notifications?limit=1000${query}`)
  if (res.status !== 200) throw new Error(`GET /v1/notifications: ${res.status} ${JSON.stringify(res.json)}`)
  return res.json.notifications as NotificationJson[]
}

/** Polls the outbox (its state changes have no event outside the bridge) until `done` holds. */
async function outboxUntil(
  h: Harness,
  done: (messages: NotificationJson[]) => boolean,
  what: string,
): Promise<NotificationJson[]> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const messages = await outbox(h)
    if (done(messages)) return messages
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(messages)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

function verified(delivery: WebhookDelivery): boolean {
  return verifyWebhook(
    HOOK_SECRET,
    String(delivery.headers['x-bridge-timestamp']),
    delivery.body,
    String(delivery.headers['x-bridge-signature']),
  )
}

t.test('3 failing files of 50: one signed webhook message and one email, listed in the outbox', async (t) => {
  const h = await harnessWith(t, (s) => notificationsConfig(s))
  await dropFiles(h, 47, 3)
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'partially_failed')
  t.equal(run.counts.failed, 3)
  await h.sandbox.waitForWebhooks(1, 'ops')
  await h.sandbox.waitForEmails(1)
  const messages = await outboxUntil(
    h,
    (m) => m.length === 2 && m.every((x) => x.state === 'sent'),
    'both sent',
  )

  const [delivery] = h.sandbox.webhookDeliveries('ops')
  t.equal(h.sandbox.webhookDeliveries('ops').length, 1, 'exactly one webhook message')
  t.ok(verified(delivery!), 'the signature verifies with the secret')
  t.notOk(
    verifyWebhook(
      'another-secret-0123456789',
      String(delivery!.headers['x-bridge-timestamp']),
      delivery!.body,
      String(delivery!.headers['x-bridge-signature']),
    ),
    'and not with another secret',
  )
  const payload = JSON.parse(delivery!.body)
  t.equal(delivery!.headers['x-bridge-delivery'], payload.id, 'X-Bridge-Delivery is the message id')
  t.match(payload, { event: 'run.partially_failed', flow: 'partner-docs', runId: run.id, more: 0 })
  t.same(
    payload.files.map((f: { path: string }) => f.path).sort(),
    ['/inbox/NOPE-990_x.pdf', '/inbox/NOPE-991_x.pdf', '/inbox/NOPE-992_x.pdf'],
    'the message lists the three failed files',
  )
  t.ok(payload.files.every((f: { code: string }) => f.code === 'NO_MATCHING_RECORD'))
  t.match(payload.text, /3 files failed, 47 done of 50/)

  const emails = h.sandbox.emails()
  t.equal(emails.length, 1, 'exactly one emailSimple request')
  t.same(emails[0]!.to, ['ops@example.com', 'lead@example.com'])
  t.match(emails[0]!.subject, /partner-docs/)
  t.match(emails[0]!.body, /NOPE-990_x\.pdf \(NO_MATCHING_RECORD\)/)

  t.same(messages.map((m) => m.channel).sort(), ['admins', 'ops-hook'])
  t.equal(messages.find((m) => m.channel === 'admins')?.event, 'file.failed')
  t.equal(messages.find((m) => m.channel === 'ops-hook')?.destination, new URL(h.sandbox.url).host)

  const api = JSON.stringify((await h.api('GET', '/v1/notifications')).json)
  const logs = h.logs.join('')
  for (const secret of [HOOK_SECRET, h.sandbox.clientSecret]) {
    t.notOk(api.includes(secret), 'no secret in the outbox API')
    t.notOk(logs.includes(secret), 'no secret in the logs')
  }
  t.notOk(api.includes('/sandbox/webhooks/ops'), 'the webhook URL path is not shown')
  t.ok(logs.includes('notification sent'))

  const sent = await h.api('GET', '/v1/notifications?state=sent&channel=admins&limit=1')
  t.equal(sent.json.notifications.length, 1)
  const bad = await h.api('GET', '/v1/notifications?state=lost')
  t.equal(bad.status, 400)
  t.match(bad.json, { error: { code: 'VALIDATION_FAILED' } })
  t.match(JSON.stringify(bad.json), /state/)
})

/** A clock the test moves forward; sleeps are real (retries and backoff still wait). */
function movableClock(): Clock & { advance(ms: number): void } {
  const system = createSystemClock()
  let offset = 0
  return {
    now: () => Date.now() + offset,
    sleep: system.sleep,
    advance(ms) {
      offset += ms
    },
  }
}

/** A second bridge on the harness's configuration (a restart, or another replica). */
async function anotherBridge(t: Test, h: Harness, edit: (config: string) => string = (c) => c) {
  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'))
      cb()
    },
  })
  const config = parseConfig(edit(h.configText), 'json', h.env)
  const server = await startServer(config, createLogger({ level: 'debug', destination: sink }), {
    schedules: false,
  })
  t.teardown(() => server.close())
  return { server, logs }
}

const hookOnly = (s: { webhookUrl(name?: string): string }, extra: Record<string, unknown> = {}) =>
  notificationsConfig(s, {
    rules: [{ on: ['run.partially_failed', 'file.failed'], flows: ['*'], channel: 'ops-hook' }],
    ...extra,
  })

t.test('stopped between the event and the delivery: the next start delivers it, once', async (t) => {
  const h = await harnessWith(t, (s) => notificationsConfig(s, { deliver: false }))
  await dropFiles(h, 2, 1)
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'partially_failed')
  const waiting = await outbox(h)
  t.same(
    waiting.map((m) => m.state),
    ['pending', 'pending'],
    'written with the run, not delivered',
  )
  await h.server.close()
  t.equal(h.sandbox.webhookDeliveries().length, 0)

  const restarted = await anotherBridge(t, h, (c) => c.replace('"deliver": false', '"deliver": true'))
  await h.sandbox.waitForWebhooks(1, 'ops')
  await h.sandbox.waitForEmails(1)
  const listed = await restarted.server.bridge.notifications.list({ limit: 10 })
  t.same(
    listed.notifications.map((m) => m.id).sort(),
    waiting.map((m) => m.id).sort(),
    'the same messages, not new ones',
  )
  await restarted.server.close()
  t.equal(h.sandbox.webhookDeliveries('ops').length, 1, 'delivered once')
  t.equal(h.sandbox.emails().length, 1, 'emailed once')
  t.equal(JSON.parse(h.sandbox.webhookDeliveries('ops')[0]!.body).runId, run.id)
})

t.test('two replicas on PostgreSQL deliver each message once', async (t) => {
  const schema = `bridge_notify_${randomBytes(5).toString('hex')}`
  t.teardown(async () => {
    const admin = new pg.Client({ connectionString: pgUrl })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await admin.end()
  })
  const h = await harnessWith(t, (s) => notificationsConfig(s, { pollIntervalMs: 20 }), {
    store: { postgresUrl: pgUrl, postgresSchema: schema },
  })
  const other = await anotherBridge(t, h)
  await dropFiles(h, 10, 3)
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'partially_failed')
  await h.sandbox.waitForWebhooks(1, 'ops')
  await h.sandbox.waitForEmails(1)
  const messages = await outboxUntil(
    h,
    (m) => m.length === 2 && m.every((x) => x.state === 'sent'),
    'both sent',
  )
  t.same(
    (await other.server.bridge.notifications.list({ limit: 10 })).notifications.map((m) => m.state),
    ['sent', 'sent'],
    'the other replica sees the same outbox',
  )
  t.equal(h.sandbox.webhookDeliveries('ops').length, 1, 'one webhook message')
  t.equal(h.sandbox.emails().length, 1, 'one email')
  t.ok(
    messages.every((m) => m.attempts === 1),
    'each claimed once',
  )
})

t.test('a 500 from the webhook is retried; a 400 fails the message with the reason', async (t) => {
  const h = await harnessWith(t, (s) => hookOnly(s))
  h.sandbox.respondToWebhooks([500])
  await dropFiles(h, 1, 1)
  const first = await h.runAndWait('partner-docs')
  await h.sandbox.waitForWebhooks(1, 'ops')
  const [sent] = await outboxUntil(h, (m) => m[0]?.state === 'sent', 'the retried message sent')
  t.equal(sent!.attempts, 2, 'sent on the second attempt')
  t.same(
    h.sandbox.webhookDeliveries('ops').map((d) => d.status),
    [500, 200],
  )
  t.ok(h.sandbox.webhookDeliveries('ops').every(verified), 'every attempt is signed')
  t.equal(JSON.parse(h.sandbox.webhookDeliveries('ops')[1]!.body).runId, first.id)

  h.sandbox.respondToWebhooks([400])
  await h.put('inbox/NOPE-777_again.pdf', 'unmatched again')
  const second = await h.runAndWait('partner-docs')
  const messages = await outboxUntil(
    h,
    (m) => m.some((x) => x.state === 'failed'),
    'the refused message failed',
  )
  const failed = messages.find((m) => m.state === 'failed')
  t.match(failed, { attempts: 1, lastError: { code: 'NOTIFICATION_REJECTED', message: /HTTP 400/ } })
  t.equal(h.sandbox.webhookDeliveries('ops').length, 3, 'a 400 is not tried again')
  t.equal(JSON.parse(h.sandbox.webhookDeliveries('ops')[2]!.body).runId, second.id)
  const failedOnly = await h.api('GET', '/v1/notifications?state=failed')
  t.equal(failedOnly.json.notifications.length, 1)

  // A retry of the run that fails again is another ending: told again.
  const retried = await h.api('POST', `/v1/runs/${second.id}/retry`)
  t.equal(retried.status, 202)
  t.equal((await h.waitForRun(second.id)).state, 'failed', 'the file fails again')
  await h.sandbox.waitForWebhooks(2, 'ops')
  t.equal(JSON.parse(h.sandbox.webhookDeliveries('ops')[3]!.body).runId, second.id)
})

t.test('the rate limit holds messages back and sends them once a slot frees', async (t) => {
  const clock = movableClock()
  const h = await harnessWith(
    t,
    (s) =>
      hookOnly(s, {
        channels: {
          'ops-hook': {
            type: 'webhook',
            url: s.webhookUrl('ops'),
            secret: '${HOOK_SECRET}',
            rateLimit: { perMinute: 2 },
          },
        },
      }),
    { bridge: { clock, schedules: false } },
  )
  const body = (i: number) => ({
    event: 'run.failed',
    flow: 'partner-docs',
    runId: null,
    subject: `s${i}`,
    text: `t${i}`,
    files: [],
    more: 0,
    details: {},
    occurredAt: new Date().toISOString(),
  })
  await h.server.bridge.store.enqueueOutbox(
    [0, 1, 2].map((i) => ({
      dedupeKey: `rate:${i}`,
      channel: 'ops-hook',
      event: 'run.failed',
      flow: 'partner-docs',
      runId: null,
      body: body(i),
    })),
  )
  await h.sandbox.waitForWebhooks(2, 'ops')
  const held = await outboxUntil(h, (m) => m.filter((x) => x.state === 'sent').length === 2, 'two sent')
  t.same(held.map((m) => m.state).sort(), ['pending', 'sent', 'sent'], 'the third waits')
  t.equal(held.find((m) => m.state === 'pending')?.attempts, 0, 'not tried, not dropped')
  t.equal(h.sandbox.webhookDeliveries('ops').length, 2)
  clock.advance(61_000)
  await h.sandbox.waitForWebhooks(3, 'ops')
  await outboxUntil(h, (m) => m.every((x) => x.state === 'sent'), 'all sent')
  t.same(
    h.sandbox
      .webhookDeliveries('ops')
      .map((d) => JSON.parse(d.body).text)
      .sort(),
    ['t0', 't1', 't2'],
  )
})

t.test(
  'flow.no_success fires once per quiet period, and again only after a success and a new period',
  async (t) => {
    const clock = movableClock()
    const h = await harnessWith(
      t,
      (s) =>
        notificationsConfig(s, {
          rules: [{ on: ['flow.no_success'], flows: ['partner-docs'], after: '1h', channel: 'ops-hook' }],
        }),
      { bridge: { clock, schedules: false } },
    )
    t.same(await outbox(h), [], 'nothing while the period runs')
    clock.advance(2 * 3_600_000)
    await h.sandbox.waitForWebhooks(1, 'ops')
    const first = JSON.parse(h.sandbox.webhookDeliveries('ops')[0]!.body)
    t.match(first, {
      event: 'flow.no_success',
      flow: 'partner-docs',
      details: { after: '1h', lastSuccessAt: null },
    })

    clock.advance(2 * 3_600_000)
    await h.put('inbox/ACME-001_ok.pdf', 'fine')
    const run = await h.runAndWait('partner-docs')
    t.equal(run.state, 'succeeded')
    const afterSuccess = await outbox(h)
    t.equal(afterSuccess.length, 1, 'once for the first quiet period, however long it lasted')

    clock.advance(2 * 3_600_000)
    await h.sandbox.waitForWebhooks(2, 'ops')
    const second = JSON.parse(h.sandbox.webhookDeliveries('ops')[1]!.body)
    t.match(second, { event: 'flow.no_success', details: { lastSuccessAt: run.finishedAt } })
    await outboxUntil(h, (m) => m.length === 2 && m.every((x) => x.state === 'sent'), 'both sent')
    t.equal(h.sandbox.webhookDeliveries('ops').length, 2)
  },
)

t.test(
  "a rejection's notify reaches its email recipients and channel; an unknown channel is a 400",
  async (t) => {
    const h = await harnessWith(t, (s) => hookOnly(s), {
      flows: (endpoint) => [
        standardFlow(endpoint, {
          review: { dropZone: { directory: '/rejected/{record.id}' }, onRejected: {}, onResubmitted: {} },
        }),
      ],
    })
    await h.put('inbox/ACME-001_logo.pdf', 'logo v1')
    t.equal((await h.runAndWait('partner-docs')).counts.done, 1)
    const [file] = h.sandbox.records('cg__AccountFile__c').filter((r) => r.cg__WIP__c === false)
    const reject = (notify: Record<string, unknown>) =>
      h.api('POST', '/v1/flows/partner-docs/rejections', {
        body: { fileId: file?.Id, reasonCode: 'BLURRY', reason: 'Out of focus', notify },
      })
    const unknown = await reject({ channel: 'pager' })
    t.equal(unknown.status, 400)
    t.match(unknown.json.error, { code: 'VALIDATION_FAILED', message: /notify\.channel/ })
    const badEmail = await reject({ email: 'not an address' })
    t.equal(badEmail.status, 400)
    t.match(badEmail.json.error.message, /notify\.email/)

    const res = await reject({
      email: 'partner@example.com, buyer@example.com',
      channel: 'ops-hook',
      ticket: 'T-42',
    })
    t.equal(res.status, 202)
    await h.sandbox.waitForEmails(1)
    await h.sandbox.waitForWebhooks(1, 'ops')
    t.same(h.sandbox.emails()[0]!.to, ['partner@example.com', 'buyer@example.com'])
    t.match(h.sandbox.emails()[0]!.subject, /rejected \(BLURRY\)/)
    const payload = JSON.parse(h.sandbox.webhookDeliveries('ops')[0]!.body)
    t.match(payload, {
      event: 'rejection.created',
      details: { correlationId: res.json.correlationId, reasonCode: 'BLURRY', context: { ticket: 'T-42' } },
    })
    const messages = await outboxUntil(
      h,
      (m) => m.length === 2 && m.every((x) => x.state === 'sent'),
      'both sent',
    )
    t.same(messages.map((m) => m.channelType).sort(), ['email', 'webhook'])
  },
)

t.test(
  'endpoint.unreachable after 3 failed connects; salesforce.api_limit when the org pauses calls',
  async (t) => {
    const h = await harnessWith(t, (s) =>
      notificationsConfig(s, {
        rules: [
          { on: ['endpoint.unreachable'], flows: ['*'], after: 3, channel: 'ops-hook' },
          { on: ['salesforce.api_limit'], flows: ['*'], channel: 'ops-hook' },
        ],
      }),
    )
    await h.put('inbox/ACME-001_a.pdf', 'a')
    h.sandbox.setApiUsage(15_000)
    const started = await h.api('POST', '/v1/flows/partner-docs/runs')
    t.equal(started.status, 202)
    await h.sandbox.waitForWebhooks(1, 'ops')
    h.sandbox.setApiUsage(0)
    t.equal(
      (await h.waitForRun(started.json.runId)).state,
      'succeeded',
      'the run resumes once the limit lifts',
    )
    t.match(JSON.parse(h.sandbox.webhookDeliveries('ops')[0]!.body), {
      event: 'salesforce.api_limit',
      flow: null,
    })

    await h.remote.close()
    for (let i = 0; i < 4; i++)
      t.equal((await h.runAndWait('partner-docs')).state, 'failed', `run ${i + 1} cannot connect`)
    await h.sandbox.waitForWebhooks(2, 'ops')
    const messages = await outboxUntil(
      h,
      (m) => m.length === 2 && m.every((x) => x.state === 'sent'),
      'both sent',
    )
    t.same(messages.map((m) => m.event).sort(), ['endpoint.unreachable', 'salesforce.api_limit'])
    t.match(JSON.parse(h.sandbox.webhookDeliveries('ops')[1]!.body), {
      event: 'endpoint.unreachable',
      details: { endpoint: 'partner', failures: 3, flows: ['partner-docs'] },
    })
    t.equal(h.sandbox.webhookDeliveries('ops').length, 2, 'the fourth failure sends nothing more')
  },
)

t.test('a platform event is published in the org with the configured fields', async (t) => {
  const h = await harnessWith(t, () => ({
    channels: {
      org: { type: 'platformEvent', event: 'Bridge_Alert__e', fields: { summary: 'Text__c' } },
    },
    rules: [{ on: ['run.partially_failed'], flows: ['partner-docs'], channel: 'org' }],
    pollIntervalMs: 50,
  }))
  await dropFiles(h, 2, 2)
  const run = await h.runAndWait('partner-docs')
  await h.sandbox.waitForPlatformEvents(1)
  const [event] = h.sandbox.platformEvents()
  t.equal(event!.sobject, 'Bridge_Alert__e')
  t.match(event!.fields, {
    Event__c: 'run.partially_failed',
    Flow__c: 'partner-docs',
    Run_Id__c: run.id,
    Failed_Count__c: 2,
    Text__c: /2 files failed, 2 done of 4/,
  })
  const [message] = await outboxUntil(h, (m) => m[0]?.state === 'sent', 'sent')
  t.match(message, { channelType: 'platformEvent', destination: 'Bridge_Alert__e' })
})
