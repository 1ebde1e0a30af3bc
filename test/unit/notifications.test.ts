// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings test ${VAR} references, not templates.
/** The pure parts of notifications: durations, rules, message composition, rate limit, signature, watchdog, config checks. */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse, stringify } from 'yaml'
import { ConfigError, parseConfig } from '../../src/config/load.js'
import type { NotificationRule } from '../../src/config/schema.js'
import { parseDuration } from '../../src/domain/notifications.js'
import { composeRejectionMessage, composeRunMessage, MAX_LISTED_FILES } from '../../src/notify/compose.js'
import { nextSlotInMs, roomAt } from '../../src/notify/rate-limit.js'
import { channelsFor, runMessagesByChannel, runOutcomeEvent } from '../../src/notify/rules.js'
import { signWebhook, verifyWebhook } from '../../src/notify/signature.js'
import { noSuccessDue } from '../../src/notify/watchdog.js'
import { unreachableChannels } from '../../src/notify/watchers.js'

const rule = (r: Partial<NotificationRule> & Pick<NotificationRule, 'on' | 'channel'>): NotificationRule => ({
  flows: ['*'],
  ...r,
})

t.test('durations', async (t) => {
  t.equal(parseDuration('24h'), 86_400_000)
  t.equal(parseDuration('30m'), 1_800_000)
  t.equal(parseDuration('7d'), 604_800_000)
  t.equal(parseDuration('1h30m'), 5_400_000)
  t.equal(parseDuration('90s'), 90_000)
  for (const bad of ['', '24', 'h', '1.5h', '-1h', '0h', '24 hours', '1y'])
    t.equal(parseDuration(bad), null, bad)
})

t.test('rules: channels by event and flow; one message per run and channel', async (t) => {
  const rules = [
    rule({ on: ['run.failed', 'run.partially_failed', 'file.failed'], channel: 'hook' }),
    rule({ on: ['file.failed'], flows: ['invoices'], channel: 'admins' }),
    rule({ on: ['file.failed'], flows: ['invoices'], channel: 'hook' }),
    rule({ on: ['salesforce.api_limit'], flows: ['invoices'], channel: 'org' }),
  ]
  t.same(channelsFor(rules, 'file.failed', ['invoices']), ['hook', 'admins'], 'distinct, in rule order')
  t.same(channelsFor(rules, 'file.failed', ['other']), ['hook'])
  t.same(channelsFor(rules, 'salesforce.api_limit', null), ['org'], 'an org-wide event matches any flows')
  t.equal(runOutcomeEvent('inbound', 'failed'), 'run.failed')
  t.equal(runOutcomeEvent('status', 'partially_failed'), 'run.partially_failed')
  t.equal(runOutcomeEvent('outbound', 'failed'), 'job.failed')
  t.equal(runOutcomeEvent('outbound', 'partially_failed'), null)
  t.equal(runOutcomeEvent('inbound', 'succeeded'), null)
  t.same(
    [...runMessagesByChannel(rules, 'run.partially_failed', 'invoices', 3)],
    [
      ['hook', 'run.partially_failed'],
      ['admins', 'file.failed'],
    ],
    'run.* and file.failed matching the same channel give one message, the run event',
  )
  t.same([...runMessagesByChannel(rules, null, 'invoices', 0)], [], 'no failed file, no run event: nothing')
})

t.test('a run message lists at most 20 failed files and counts the rest', async (t) => {
  const failed = Array.from({ length: 23 }, (_, i) => ({
    path: `/inbox/f${i}.pdf`,
    code: 'NO_MATCHING_RECORD',
    message: `no record\nfor f${i}`,
  }))
  const body = composeRunMessage({
    event: 'run.partially_failed',
    flow: 'invoices',
    runId: 'run_1',
    state: 'partially_failed',
    counts: { total: 50, done: 27, failed: 23, skipped: 0 },
    failed,
    error: null,
    at: '2026-01-01T00:00:00.000Z',
  })
  t.equal(body.files.length, MAX_LISTED_FILES)
  t.equal(body.more, 3)
  t.notOk(body.text.includes('\n'), 'the text is one paragraph')
  t.notOk(body.files[0]!.message.includes('\n'))
  t.match(body.text, /Run run_1 of flow "invoices" partially failed: 23 files failed, 27 done of 50\./)
  t.match(body.text, /and 3 more\.$/)
  t.match(body.subject, /invoices: run partially failed \(23 failed files\)/)
  const job = composeRunMessage({
    ...body,
    event: 'job.failed',
    flow: 'x',
    runId: 'j',
    state: 'failed',
    counts: { total: 1, done: 0, failed: 1, skipped: 0 },
    failed: failed.slice(0, 1),
    error: { code: 'TIMEOUT', message: 'slow' },
    at: body.occurredAt,
  })
  t.match(job.text, /^Export job j of flow "x" failed: 1 file failed, 0 done of 1\. Error TIMEOUT: slow\./)
  const rejection = composeRejectionMessage({
    flow: 'art',
    correlationId: 'rv-1',
    fileName: 'logo.png',
    recordId: '001',
    reasonCode: 'BLURRY',
    reason: 'out\nof focus',
    context: { ticket: 'T-1' },
    to: ['a@x.com'],
    at: body.occurredAt,
  })
  t.match(rejection, { event: 'rejection.created', to: ['a@x.com'], details: { context: { ticket: 'T-1' } } })
  t.notOk(rejection.text.includes('\n'))
})

t.test('rate limit over a sliding minute', async (t) => {
  t.equal(roomAt([], 1000, 2), 2)
  t.equal(roomAt([100, 200], 1000, 2), 0)
  t.equal(roomAt([100, 200], 60_150, 2), 1, 'the first send left the window')
  t.equal(nextSlotInMs([100, 200], 1000, 2), 59_100, 'when the oldest send leaves the window')
  t.equal(nextSlotInMs([100], 1000, 2), 0)
  t.equal(nextSlotInMs([100, 200, 300], 1000, 2), 59_200, 'the send that keeps the window full')
})

t.test('webhook signature: HMAC-SHA256 over timestamp.body', async (t) => {
  const secret = 'a-secret-of-16-chars'
  const sig = signWebhook(secret, 1_700_000_000, '{"a":1}')
  t.match(sig, /^sha256=[0-9a-f]{64}$/)
  t.ok(verifyWebhook(secret, '1700000000', '{"a":1}', sig))
  t.notOk(verifyWebhook(secret, '1700000001', '{"a":1}', sig), 'another timestamp')
  t.notOk(verifyWebhook(secret, '1700000000', '{"a":2}', sig), 'another body')
  t.notOk(verifyWebhook('another-secret-0000', '1700000000', '{"a":1}', sig), 'another secret')
  t.notOk(verifyWebhook(secret, 'x', '{"a":1}', sig))
})

t.test('watchdog and unreachable thresholds', async (t) => {
  const hour = 3_600_000
  t.notOk(noSuccessDue(null, 0, hour, hour - 1))
  t.ok(noSuccessDue(null, 0, hour, hour), 'never succeeded: from when watching began')
  t.notOk(noSuccessDue(5 * hour, 0, hour, 5.5 * hour), 'a success starts a new period')
  t.ok(noSuccessDue(5 * hour, 0, hour, 6 * hour))
  const rules = [
    rule({ on: ['endpoint.unreachable'], channel: 'hook' }),
    rule({ on: ['endpoint.unreachable'], after: 5, flows: ['b'], channel: 'pager' }),
  ]
  t.same(unreachableChannels(rules, ['a'], 2), [])
  t.same(unreachableChannels(rules, ['a'], 3), ['hook'], 'default: after 3 failed connects')
  t.same(unreachableChannels(rules, ['a'], 4), [], 'once per streak')
  t.same(unreachableChannels(rules, ['a', 'b'], 5), ['pager'])
})

const fixture = readFileSync(
  join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bridge.example.yaml'),
  'utf8',
)
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
  HOOK_SECRET: 'hook-secret-0123456789',
}

function withNotifications(notifications: unknown): string[] {
  const data = parse(fixture) as Record<string, unknown>
  data.notifications = notifications
  try {
    parseConfig(stringify(data), 'yaml', env)
    return []
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return error.issues.map((i) => `${i.path}: ${i.message}`)
  }
}

const channels = {
  'ops-hook': { type: 'webhook', url: 'https://hooks.example.com/T1/B2', secret: '${HOOK_SECRET}' },
  admins: { type: 'salesforceEmail', to: ['ops@example.com'] },
  org: { type: 'platformEvent', event: 'Bridge_Alert__e' },
}

t.test('configuration: the issue’s shape loads, with defaults', async (t) => {
  const data = parse(fixture) as Record<string, unknown>
  data.notifications = {
    channels,
    rules: [
      {
        on: ['run.failed', 'run.partially_failed', 'file.failed', 'job.failed'],
        flows: ['*'],
        channel: 'ops-hook',
      },
      { on: ['flow.no_success'], flows: ['partner-invoices'], after: '24h', channel: 'admins' },
    ],
  }
  const config = parseConfig(stringify(data), 'yaml', env)
  t.match(config.notifications.channels['ops-hook'], {
    secret: env.HOOK_SECRET,
    rateLimit: { perMinute: 6 },
    timeoutMs: 10_000,
  })
  t.match(config.notifications.channels.org, { fields: { event: 'Event__c', summary: 'Summary__c' } })
  t.match(config.notifications, { pollIntervalMs: 1000, maxAttempts: 10, deliver: true })
  const none = parseConfig(fixture, 'yaml', env)
  t.same(none.notifications.rules, [], 'no section: no rules')
})

t.test('configuration: errors name the key path', async (t) => {
  t.same(
    withNotifications({
      channels,
      rules: [
        { on: ['run.failed'], channel: 'pager' },
        { on: ['run.exploded'], flows: ['nope'], channel: 'admins' },
        { on: ['flow.no_success'], flows: ['partner-invoices'], after: '24 hours', channel: 'admins' },
        { on: ['flow.no_success'], channel: 'admins' },
        { on: ['endpoint.unreachable'], after: '3', channel: 'admins' },
        { on: ['run.failed'], after: 3, channel: 'admins' },
      ],
    }),
    [
      'notifications.rules[0].channel: unknown channel "pager" (configured: ops-hook, admins, org)',
      'notifications.rules[1].flows[0]: unknown flow "nope"',
      'notifications.rules[1].on[0]: unknown event "run.exploded" (known: run.failed, run.partially_failed, file.failed, job.failed, rejection.created, salesforce.api_limit, endpoint.unreachable, flow.no_success)',
      'notifications.rules[2].after: flow.no_success needs a duration such as "24h", "30m" or "7d", got "24 hours"',
      'notifications.rules[3].after: flow.no_success needs a duration such as "24h", "30m" or "7d", got null',
      'notifications.rules[4].after: endpoint.unreachable counts failed connects: a whole number such as 3, got "3"',
      'notifications.rules[5].after: only for flow.no_success (a duration) and endpoint.unreachable (a count)',
    ],
  )
  const badChannel = withNotifications({
    channels: { hook: { type: 'webhook', url: 'ftp://x', secret: 'short' } },
  })
  t.ok(
    badChannel.some((e) => e.startsWith('notifications.channels.hook.url')),
    badChannel.join('\n'),
  )
  t.ok(badChannel.some((e) => e.startsWith('notifications.channels.hook.secret')))
  const badEvent = withNotifications({ channels: { org: { type: 'platformEvent', event: 'Alert__c' } } })
  t.ok(
    badEvent.some((e) => e.startsWith('notifications.channels.org.event')),
    badEvent.join('\n'),
  )
})
