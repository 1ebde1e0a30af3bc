/**
 * A built-in schedule on several replicas fires once per tick in total:
 * every replica's timer fires, the tick is the run's idempotency key, so
 * one of them creates the run and the others find it.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import pino from 'pino'
import t from 'tap'
import { scheduledTick } from '../../src/adapters/scheduler/cron-scheduler.js'
import { type Bridge, createBridge } from '../../src/bridge.js'
import { parseConfig } from '../../src/config/load.js'
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.js'
import { endpointConfig, REMOTE_PASSWORD, startRemoteServer } from '../support/harness.js'

const pgUrl = process.env.BRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

t.test('scheduledTick rounds a late timer to the second it was due', async (t) => {
  const due = Date.parse('2026-11-25T18:00:05.000Z')
  t.equal(scheduledTick(due + 3), '2026-11-25T18:00:05.000Z')
  t.equal(scheduledTick(due + 420), '2026-11-25T18:00:05.000Z')
  t.equal(scheduledTick(due - 2), '2026-11-25T18:00:05.000Z', 'a timer firing a hair early too')
})

t.test('three replicas, a schedule every second: one run per tick', async (t) => {
  const schema = `bridge_sched_${randomBytes(5).toString('hex')}`
  const dir = await mkdtemp(join(tmpdir(), 'bridge-sched-'))
  await mkdir(join(dir, 'remote', 'inbox'), { recursive: true })
  const sandbox = await startSalesforceSandbox()
  const remote = await startRemoteServer('sftp', join(dir, 'remote'))
  const bridges: Bridge[] = []
  t.teardown(async () => {
    for (const b of bridges) await b.close()
    await remote.close()
    await sandbox.close()
    await rm(dir, { recursive: true, force: true })
    const admin = new pg.Client({ connectionString: pgUrl })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await admin.end()
  })
  const config = {
    store: { postgresUrl: pgUrl, postgresSchema: schema, leaseMs: 2000 },
    salesforce: {
      loginUrl: sandbox.url,
      auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: '${SF_CLIENT_SECRET}' },
    },
    sdrive: { s3UploadUrl: sandbox.s3UploadUrl },
    endpoints: { partner: endpointConfig('sftp', remote) },
    flows: [
      {
        name: 'ticking',
        kind: 'inbound',
        source: { endpoint: 'partner', directory: '/inbox' },
        match: [{ type: 'recordId', object: 'Account' }],
        target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
        after: { success: 'delete', errorDirectory: '/errors' },
        schedule: { cron: '* * * * * *', timezone: 'UTC' },
      },
    ],
  }
  const env = { REMOTE_PASSWORD, SF_CLIENT_SECRET: sandbox.clientSecret }
  // From before the first replica starts: it schedules while the others are still starting (seconds
  // on a loaded machine), and those runs are counted too.
  const started = Date.now()
  for (let i = 0; i < 3; i++) {
    const bridge = await createBridge(
      parseConfig(JSON.stringify(config), 'json', env),
      pino({ level: 'silent' }),
    )
    bridges.push(bridge)
    await bridge.start({ schedules: true })
  }
  const store = (bridges[0] as Bridge).store
  const scheduled = async () =>
    (await store.listRuns({ flow: 'ticking', limit: 100 })).runs.filter((r) => r.trigger === 'schedule')
  while ((await scheduled()).length < 4) await new Promise((resolve) => setTimeout(resolve, 100))
  const runs = await scheduled()
  const seconds = Math.ceil((Date.now() - started) / 1000)
  t.ok(runs.length <= seconds + 1, `${runs.length} runs in ${seconds} s: one per tick, not one per replica`)
  const ticks = runs.map((r) => r.idempotencyKey)
  t.ok(runs.length >= 4, `${runs.length} scheduled runs`)
  t.equal(new Set(ticks).size, runs.length, 'never two runs for one tick')
  t.ok(
    ticks.every((k) => /^schedule:ticking:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/.test(String(k))),
    'keyed by the tick',
  )
})
