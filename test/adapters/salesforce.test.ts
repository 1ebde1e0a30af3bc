import { generateKeyPairSync } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import t from 'tap'
import { createSalesforceApi } from '../../src/adapters/salesforce/index.js'
import type { SalesforceConfig } from '../../src/config/schema.js'
import { selectWhereIn } from '../../src/domain/soql.js'
import type { ApiUsage } from '../../src/ports/salesforce.js'
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.js'

const silentLogger = pino({ level: 'silent' })

function rsaKeyPair(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  }
}

function clientCredentialsConfig(
  sandbox: { url: string; clientId: string; clientSecret: string },
  overrides: Partial<SalesforceConfig> = {},
): SalesforceConfig {
  return {
    loginUrl: sandbox.url,
    apiVersion: '63.0',
    auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    timeoutMs: 20_000,
    maxRetries: 3,
    apiLimitProbeIntervalMs: 100,
    ...overrides,
  }
}

const fastBackoff = { baseMs: 5, maxMs: 20 }

/** A tiny local HTTP server for shapes or behaviours the sandbox does not offer. */
async function localServer(
  handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void,
): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handler(req, res, Buffer.concat(chunks)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Answers the token endpoint like Salesforce, pointing the instance URL back at the same server. */
function answerToken(req: IncomingMessage, res: ServerResponse, url: string): boolean {
  if (req.url !== '/services/oauth2/token') return false
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(
    JSON.stringify({
      access_token: 'local-token',
      instance_url: url,
      id: `${url}/id/00D000000000001AAA/005000000000001AAA`,
      token_type: 'Bearer',
      issued_at: String(Date.now()),
    }),
  )
  return true
}

const keys = rsaKeyPair()
const sandbox = await startSalesforceSandbox({
  jwtPublicKeys: { 'jwt-consumer-key': keys.publicPem },
  dailyApiLimit: 50_000,
})
t.teardown(() => sandbox.close())

const deps = { logger: silentLogger, backoff: fastBackoff }
const api = (overrides = {}) => createSalesforceApi(clientCredentialsConfig(sandbox, overrides), deps)
const calls = (kind: string) => sandbox.calls[kind] ?? 0
const soqlCount = () => calls('query')

t.test('client_credentials authenticates and queries', async (t) => {
  sandbox.insert('Account', { Name: 'Acme' })
  const sf = api()
  await sf.checkAuth()
  const rows = await sf.query<{ Id: string; Name: string }>(
    "SELECT Id, Name FROM Account WHERE Name = 'Acme'",
  )
  t.equal(rows.length, 1)
  t.equal(rows[0]?.Name, 'Acme')
  t.notOk('attributes' in (rows[0] ?? {}), 'attributes are stripped')
  t.ok(sf.callCount() >= 2, 'token + query counted')
})

t.test('JWT bearer authenticates with an RS256 assertion', async (t) => {
  const sf = api({
    auth: {
      type: 'jwt',
      clientId: 'jwt-consumer-key',
      username: 'integration@example.com',
      privateKey: keys.privatePem,
    },
  })
  await sf.checkAuth()
  const rows = await sf.query('SELECT Id FROM Account LIMIT 1')
  t.equal(rows.length, 1)
  const other = rsaKeyPair()
  const wrongKey = api({
    auth: {
      type: 'jwt',
      clientId: 'jwt-consumer-key',
      username: 'integration@example.com',
      privateKey: other.privatePem,
    },
  })
  await t.rejects(wrongKey.checkAuth(), { code: 'SALESFORCE_AUTH_FAILED' })
})

t.test('bad client secret is SALESFORCE_AUTH_FAILED, not retried', async (t) => {
  const before = calls('token')
  const sf = api({ auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: 'wrong' } })
  const error = await sf.checkAuth().catch((e: unknown) => e)
  t.match(error, { code: 'SALESFORCE_AUTH_FAILED', transient: false })
  t.notMatch(String((error as Error).message), /wrong/, 'the secret does not appear in the message')
  t.equal(calls('token') - before, 1)
})

t.test('an expired session re-authenticates once and the call succeeds', async (t) => {
  const sf = api()
  await sf.query('SELECT Id FROM Account LIMIT 1')
  const tokensBefore = calls('token')
  sandbox.expireSessions()
  const rows = await sf.query('SELECT Id FROM Account LIMIT 1')
  t.equal(rows.length, 1)
  t.equal(calls('token') - tokensBefore, 1, 'exactly one new token')
  await sf.query('SELECT Id FROM Account LIMIT 1')
  t.equal(calls('token') - tokensBefore, 1, 'the new token is reused')
})

t.test('a session rejected again after re-auth fails instead of looping', async (t) => {
  const sf = api()
  await sf.checkAuth()
  const tokensBefore = calls('token')
  const queriesBefore = soqlCount()
  sandbox.failNext('query', 2, {
    status: 401,
    body: [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }],
  })
  await t.rejects(sf.query('SELECT Id FROM Account'), { code: 'SESSION_EXPIRED' })
  t.equal(calls('token') - tokensBefore, 1, 'one re-authentication')
  t.equal(soqlCount() - queriesBefore, 2, 'original call + one replay')
})

t.test('REQUEST_LIMIT_EXCEEDED → API_LIMIT_EXCEEDED without retry (whenLimited: fail)', async (t) => {
  const limited = await startSalesforceSandbox({ dailyApiLimit: 5 })
  t.teardown(() => limited.close())
  const sf = createSalesforceApi(clientCredentialsConfig(limited), deps)
  t.teardown(() => sf.close())
  await sf.checkAuth()
  limited.setApiUsage(5)
  const before = limited.calls.query ?? 0
  const error = await sf.query('SELECT Id FROM Account', { whenLimited: 'fail' }).catch((e: unknown) => e)
  t.match(error, {
    code: 'API_LIMIT_EXCEEDED',
    transient: true,
    details: { salesforceCode: 'REQUEST_LIMIT_EXCEEDED' },
  })
  t.equal((limited.calls.query ?? 0) - before, 1, 'no internal retry')
})

t.test('503 twice then success is retried with backoff', async (t) => {
  const sf = api()
  await sf.checkAuth()
  const before = soqlCount()
  sandbox.failNext('query', 2, { status: 503 })
  const rows = await sf.query('SELECT Id FROM Account LIMIT 1')
  t.equal(rows.length, 1)
  t.equal(soqlCount() - before, 3)
})

t.test('503 forever → SALESFORCE_UNAVAILABLE after maxRetries', async (t) => {
  const sf = api({ maxRetries: 2 })
  await sf.checkAuth()
  const before = soqlCount()
  sandbox.failNext('query', 3, { status: 503 })
  const error = await sf.query('SELECT Id FROM Account LIMIT 1').catch((e: unknown) => e)
  t.match(error, { code: 'SALESFORCE_UNAVAILABLE', transient: true, details: { status: 503 } })
  t.equal(soqlCount() - before, 3, '1 try + 2 retries')
})

t.test('a 400 is a SALESFORCE_ERROR carrying the Salesforce code, not retried', async (t) => {
  const sf = api()
  const error = await sf.query('SELEC Id FRM Account').catch((e: unknown) => e)
  t.match(error, { code: 'SALESFORCE_ERROR', details: { status: 400 } })
  t.type((error as { details: { salesforceCode: unknown } }).details.salesforceCode, 'string')
})

t.test('paging follows nextRecordsUrl for 4500 records', async (t) => {
  const paging = await startSalesforceSandbox()
  t.teardown(() => paging.close())
  for (let i = 0; i < 4500; i++) paging.insert('Contact', { LastName: `L${i}` })
  const sf = createSalesforceApi(clientCredentialsConfig(paging), deps)
  const rows = await sf.query<{ LastName: string }>('SELECT Id, LastName FROM Contact')
  t.equal(rows.length, 4500)
  t.equal(new Set(rows.map((r) => r.LastName)).size, 4500)
  t.ok((paging.calls.queryMore ?? 0) >= 2, `queryMore calls: ${paging.calls.queryMore}`)
})

t.test('Sforce-Limit-Info is read and reported', async (t) => {
  const seen: ApiUsage[] = []
  const sf = createSalesforceApi(clientCredentialsConfig(sandbox), {
    ...deps,
    onApiUsage: (u) => seen.push(u),
  })
  t.equal(sf.apiUsage(), null)
  await sf.query('SELECT Id FROM Account LIMIT 1')
  const usage = sf.apiUsage()
  t.ok(usage)
  t.equal(usage?.limit, 50_000)
  t.ok((usage?.used ?? 0) > 0)
  t.ok(seen.length >= 1)
  t.same(seen.at(-1), usage)
})

t.test('injection attempts stay literal in a real query', async (t) => {
  const weird = `O'Brien \\ "quoted" ' OR Name != '`
  const id = sandbox.insert('Account', { Name: weird })
  const sf = api()
  const attacks = ["' OR Name != '", "x' OR Id != null OR Name = 'y", '\\', "\\' OR Name != \\'"]
  for (const soql of selectWhereIn({
    fields: ['Id', 'Name'],
    object: 'Account',
    field: 'Name',
    values: attacks,
  })) {
    t.same(await sf.query(soql), [], 'matches nothing')
  }
  const [exact] = selectWhereIn({ fields: ['Id', 'Name'], object: 'Account', field: 'Name', values: [weird] })
  const rows = await sf.query<{ Id: string; Name: string }>(exact as string)
  t.same(
    rows.map((r) => [r.Id, r.Name]),
    [[id, weird]],
  )
})

t.test('updateRecords and deleteRecords go through collections in chunks of 200', async (t) => {
  const sf = api()
  const ids = Array.from({ length: 450 }, (_, i) => sandbox.insert('Account', { Name: `bulk-${i}` }))
  const before = calls('composite')
  const updated = await sf.updateRecords(
    'Account',
    ids.map((Id) => ({ Id, Name: `bulk-updated-${Id}` })),
  )
  t.equal(updated.length, 450)
  t.ok(updated.every((r) => r.success))
  t.equal(calls('composite') - before, 3)
  const rows = await sf.query<{ Name: string }>("SELECT Name FROM Account WHERE Name LIKE 'bulk-updated-%'")
  t.equal(rows.length, 450)
  const deleted = await sf.deleteRecords([...ids, ids[0] as string])
  t.equal(deleted.length, 451)
  t.equal(deleted.filter((r) => r.success).length, 450)
  t.equal(calls('composite') - before, 6)
  t.notOk(deleted.at(-1)?.success, 'deleting an already-deleted id reports a failure per record')
  await t.rejects(sf.updateRecords('Account', [{ Name: 'no id' }]), { code: 'VALIDATION_FAILED' })
  await t.rejects(sf.updateRecords('Acc ount', [{ Id: 'x' }]), { code: 'VALIDATION_FAILED' })
})

t.test('deadline → TIMEOUT, abort signal → CANCELLED', async (t) => {
  const hang = await localServer((req, res) => {
    if (answerToken(req, res, hang.url)) return
    // Never answer: the client must give up on its own.
  })
  t.teardown(() => hang.close())
  const DEADLINE_MS = 300
  const config = {
    ...clientCredentialsConfig({ url: hang.url, clientId: 'c', clientSecret: 's' }),
    timeoutMs: DEADLINE_MS,
  }
  const sf = createSalesforceApi(config, deps)
  const started = Date.now()
  await t.rejects(sf.query('SELECT Id FROM Account'), { code: 'TIMEOUT', transient: true })
  const elapsed = Date.now() - started
  // At the deadline, not before; the upper bound leaves a loaded machine room and is still far
  // below the 20 s deadline of the client below and the 60 s default.
  t.ok(
    elapsed >= DEADLINE_MS - 10 && elapsed < DEADLINE_MS + 4700,
    `gave up near the deadline (${elapsed} ms; deadline ${DEADLINE_MS} ms)`,
  )
  const slow = createSalesforceApi({ ...config, timeoutMs: 20_000 }, deps)
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 100)
  await t.rejects(slow.apex('GET', '/anything', undefined, { signal: controller.signal }), {
    code: 'CANCELLED',
  })
  await t.rejects(slow.query('SELECT Id FROM Account', { signal: controller.signal }), { code: 'CANCELLED' })
})

t.test('network errors are retried, then SALESFORCE_UNAVAILABLE', async (t) => {
  const dead = await localServer(() => undefined)
  const url = dead.url
  await dead.close()
  const sf = createSalesforceApi(
    { ...clientCredentialsConfig({ url, clientId: 'c', clientSecret: 's' }), maxRetries: 2 },
    deps,
  )
  await t.rejects(sf.checkAuth(), { code: 'SALESFORCE_UNAVAILABLE', transient: true })
})
