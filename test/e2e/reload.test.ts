/**
 * Reload without a restart, over real sockets: the bridge, the Salesforce
 * sandbox and two SFTP servers that check passwords (the harness's partner
 * and a "bank" behind a fault proxy, which holds a download in flight).
 * One bridge through every step: refuse an invalid file, add an endpoint
 * and a flow, rotate the endpoint's password, remove the flow (and its
 * endpoint) while a run of it is in flight, and reloads asked at once.
 */
import { once } from 'node:events'
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config/load.js'
import { startSftpServer } from '../../src/sandbox/sftp-server.js'
import { startFaultProxy } from '../support/fault-proxy.js'
import { type Harness, sdriveFiles, seedRecords, standardFlow, startHarness } from '../support/harness.js'

const OLD_PASSWORD = 'bank-old-Pw#4711'
const NEW_PASSWORD = 'bank-new-Pw#0815'

type Config = Record<string, any>

async function setUp(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-reload-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const configPath = join(dir, 'bridge.json')
  const env: Record<string, string> = {}
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [standardFlow(endpoint)],
    // One run at a time: a second run of a flow waits queued while the first is in flight.
    queue: { maxActiveRuns: 1 },
    env: { BANK_PASSWORD_OLD: OLD_PASSWORD, BANK_PASSWORD_NEW: NEW_PASSWORD },
    bridge: { configSource: () => loadConfig(configPath, env) },
  })
  t.teardown(() => h.close())
  Object.assign(env, h.env)
  seedRecords(h.sandbox)
  const bankRoot = join(dir, 'bank')
  await mkdir(join(bankRoot, 'inbox'), { recursive: true })
  // The bank's password can be rotated under the bridge: the server reads this object at each login.
  const bankUser = { username: 'bank', password: OLD_PASSWORD }
  const bank = await startSftpServer({ root: bankRoot, users: [bankUser] })
  t.teardown(() => bank.close())
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: bank.port } })
  t.teardown(() => proxy.close())
  const base = JSON.parse(h.configText) as Config
  const bankEndpoint = (password: string) => ({
    protocol: 'sftp',
    host: '127.0.0.1',
    port: proxy.port,
    username: 'bank',
    password,
    hostKeySha256: bank.hostKeySha256,
    maxConnections: 2,
    connectTimeoutMs: 10_000,
    operationTimeoutMs: 60_000,
  })
  const bankFlow = standardFlow('bank', {
    name: 'bank-docs',
    source: { endpoint: 'bank', directory: '/inbox', include: ['*.pdf'] },
  })
  return {
    h,
    bank,
    bankUser,
    bankRoot,
    proxy,
    /** The harness's configuration plus the bank's endpoint (with this password reference) and flow. */
    withBank: (password: string): Config =>
      structuredClone({
        ...base,
        endpoints: { ...base.endpoints, bank: bankEndpoint(password) },
        flows: [...base.flows, bankFlow],
      }),
    base,
    write: (config: Config) => writeFile(configPath, JSON.stringify(config)),
    reload: () => h.api('POST', '/v1/admin/reload'),
    async putBank(name: string, content: Buffer | string) {
      const path = join(bankRoot, 'inbox', name)
      await writeFile(path, content)
      const hourAgo = (Date.now() - 3_600_000) / 1000
      await utimes(path, hourAgo, hourAgo)
    },
  }
}

const flowNames = async (h: Harness) =>
  ((await h.api('GET', '/v1/flows')).json.flows as { name: string }[]).map((f) => f.name)

const filesNamed = (h: Harness, name: string) =>
  sdriveFiles(h.sandbox).filter((r) => r.cg__File_Name__c === name)

t.test('reload: refuse, add, change, remove in flight, serialize', async (t) => {
  const s = await setUp(t)
  const { h } = s
  await s.write(s.base)

  await t.test('an invalid file is refused by key path and the running configuration stays', async (t) => {
    const invalid = s.withBank('${BANK_PASSWORD_OLD}')
    invalid.endpoints.bank.port = 'twenty-two'
    invalid.flows[1].source.endpoint = 'nowhere'
    await s.write(invalid)
    const res = await s.reload()
    t.equal(res.status, 400)
    t.equal(res.json.error.code, 'CONFIG_INVALID')
    const paths = (res.json.error.details.issues as { path: string }[]).map((i) => i.path)
    t.ok(
      paths.some((p) => p.startsWith('endpoints.bank.port')),
      `the port is named by key path (${paths.join(', ')})`,
    )
    t.same(await flowNames(h), ['partner-docs'], 'the flows are those from start-up')
    await h.put('inbox/ACME-001_before.pdf', 'kept config')
    const run = await h.runAndWait('partner-docs')
    t.equal(run.state, 'succeeded', 'the running configuration still moves files')
    t.equal(filesNamed(h, 'ACME-001_before.pdf').length, 1)
  })

  await t.test('an added endpoint and flow run without a restart', async (t) => {
    t.equal((await h.api('POST', '/v1/flows/bank-docs/runs')).status, 404, 'not there before the reload')
    await s.write(s.withBank('${BANK_PASSWORD_OLD}'))
    const res = await s.reload()
    t.equal(res.status, 200)
    t.same(res.json.flows, { added: ['bank-docs'], removed: [], changed: [], unchanged: 1 })
    t.same(res.json.endpoints, { added: ['bank'], removed: [], changed: [], unchanged: 1 })
    t.same(res.json.restartRequired, [])
    t.same(await flowNames(h), ['partner-docs', 'bank-docs'])
    await s.putBank('ACME-001_bank-1.pdf', 'from the bank')
    const run = await h.runAndWait('bank-docs')
    t.equal(run.state, 'succeeded')
    t.equal(filesNamed(h, 'ACME-001_bank-1.pdf').length, 1, 'the file arrived in S-Drive')
  })

  await t.test('a changed password applies from the next run, on a new pool', async (t) => {
    // The bank rotates its password; the bridge's pooled connection logged in with the old one.
    s.bankUser.password = NEW_PASSWORD
    await s.write(s.withBank('${BANK_PASSWORD_NEW}'))
    const res = await s.reload()
    t.equal(res.status, 200)
    t.same(res.json.endpoints.changed, [{ name: 'bank', keys: ['password'] }])
    t.same(res.json.flows.changed, [])
    const body = JSON.stringify(res.json)
    t.notOk(body.includes(OLD_PASSWORD) || body.includes(NEW_PASSWORD), 'no password in the answer')
    const connections = s.bank.connectionCount()
    await s.putBank('ACME-001_bank-2.pdf', 'new password')
    const works = await h.runAndWait('bank-docs')
    t.equal(works.state, 'succeeded', 'the new password works')
    t.ok(s.bank.connectionCount() > connections, 'the run connected anew (the old pool was retired)')

    await s.write(s.withBank('${BANK_PASSWORD_OLD}'))
    t.same((await s.reload()).json.endpoints.changed, [{ name: 'bank', keys: ['password'] }])
    await s.putBank('ACME-001_bank-3.pdf', 'old password')
    const fails = await h.runAndWait('bank-docs')
    t.equal(fails.state, 'failed', 'the old password no longer logs in')
    t.equal(fails.errorCode, 'REMOTE_AUTH_FAILED')
    t.equal(filesNamed(h, 'ACME-001_bank-3.pdf').length, 0)

    await s.write(s.withBank('${BANK_PASSWORD_NEW}'))
    t.equal((await s.reload()).status, 200)
    const logs = h.logs.join('')
    t.notOk(logs.includes(OLD_PASSWORD) || logs.includes(NEW_PASSWORD), 'no password in the logs')
    t.match(logs, /configuration reloaded/)
  })

  await t.test('a flow removed while its run is in flight: the run finishes, queued ones fail', async (t) => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7)
    await s.putBank('ACME-001_big.pdf', big)
    // Connections opened from now on (the pool is new since the last reload) stall mid-download.
    s.proxy.setRule({ action: 'stall', afterBytes: 1024 * 1024, direction: 'toClient' })
    const stalled = once(s.proxy.events, 'stall')
    const inFlight = await h.api('POST', '/v1/flows/bank-docs/runs')
    t.equal(inFlight.status, 202)
    await stalled
    const queued = await h.api('POST', '/v1/flows/bank-docs/runs')
    t.equal(queued.status, 202)
    t.equal((await h.api('GET', `/v1/runs/${queued.json.runId}`)).json.state, 'queued')

    // The flow and its endpoint both go: the run in flight keeps the pool it started with.
    await s.write(s.base)
    const res = await s.reload()
    t.equal(res.status, 200)
    t.same(res.json.flows, { added: [], removed: ['bank-docs'], changed: [], unchanged: 1 })
    t.same(res.json.endpoints.removed, ['bank'])
    t.same(await flowNames(h), ['partner-docs'], 'gone from the flows')
    t.equal((await h.api('POST', '/v1/flows/bank-docs/runs')).status, 404, 'no new run starts')
    const failed = (await h.api('GET', `/v1/runs/${queued.json.runId}`)).json
    t.equal(failed.state, 'failed', 'the queued run will not run')
    t.equal(failed.errorCode, 'FLOW_REMOVED')

    s.proxy.setRule(null)
    s.proxy.release()
    const run = await h.waitForRun(inFlight.json.runId)
    t.equal(run.state, 'succeeded', 'the run in flight finished')
    t.equal(filesNamed(h, 'ACME-001_big.pdf').length, 1, 'delivered once')
    const bytes = await h.sandbox.s3Object(String(filesNamed(h, 'ACME-001_big.pdf')[0]?.cg__Key__c))
    t.ok(bytes?.equals(big), 'whole')
    t.same(await readdir(join(s.bankRoot, 'inbox')), [], 'taken from the bank inbox')
  })

  await t.test('reloads asked at once run one after the other', async (t) => {
    await s.write(s.withBank('${BANK_PASSWORD_NEW}'))
    const answers = await Promise.all([s.reload(), s.reload(), s.reload()])
    t.same(
      answers.map((a) => a.status),
      [200, 200, 200],
    )
    const added = answers.map((a) => a.json.flows.added.length)
    t.same(added, [1, 0, 0], 'the first applied the file; the others found nothing left to change')
    t.same(
      answers.map((a) => a.json.flows.unchanged),
      [1, 2, 2],
    )
  })
})
