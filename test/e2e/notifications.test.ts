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
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
