/**
 * The org-wide API-limit gate (issue 18, defect 3), over real sockets to the
 * sandbox org: once Salesforce answers REQUEST_LIMIT_EXCEEDED, every later
 * call waits instead of going out, one probe per interval asks whether the
 * limit lifted, and the waiting calls then go out once each, in order. A
 * waiting call still honours its AbortSignal.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { createSalesforceApi } from '../../src/adapters/salesforce/index.js'
import { createApiLimitGate } from '../../src/adapters/salesforce/limit-gate.js'
import type { SalesforceConfig } from '../../src/config/schema.js'
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.js'

const silent = pino({ level: 'silent' })
const LIMIT = 1_000_000
const PROBE_MS = 150

async function limitedOrg(t: Test) {
  const sandbox = await startSalesforceSandbox({ dailyApiLimit: LIMIT })
  t.teardown(() => sandbox.close())
  const changes: boolean[] = []
  let onChange: ((paused: boolean) => void) | undefined
  const config: SalesforceConfig = {
    loginUrl: sandbox.url,
    apiVersion: '63.0',
    auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    timeoutMs: 10_000,
    maxRetries: 2,
    apiLimitProbeIntervalMs: PROBE_MS,
  }
  const sf = createSalesforceApi(config, {
    logger: silent,
    onApiLimitPause: (paused) => {
      changes.push(paused)
      onChange?.(paused)
    },
  })
  t.teardown(() => sf.close())
  await sf.checkAuth()
  /** Resolves at the next change to `paused` (or at once if already there). */
  const until = (paused: boolean) =>
    new Promise<void>((resolve) => {
      if ((sf.apiLimitPause() !== null) === paused) return resolve()
      onChange = (p) => {
        if (p === paused) resolve()
      }
    })
  return { sandbox, sf, changes, until }
}

t.test('calls wait at one shared gate; one probe per interval; then each goes out once', async (t) => {
  const { sandbox, sf, changes, until } = await limitedOrg(t)
  sandbox.setApiUsage(LIMIT)
  // The first call meets the limit and closes the gate; it waits there itself.
  const first = sf.query('SELECT Id FROM Account')
  await until(true)
  const closedAt = Date.now()
  const callsAtClose = sandbox.apiCallCount()
  const queriesAtClose = sandbox.calls.query ?? 0

  const waiting = Array.from({ length: 100 }, (_, i) =>
    sf.query(`SELECT Id FROM Account WHERE Name = 'n${i}'`),
  )
  // A second of pause: without the gate, 100 callers would each retry on their own.
  await sleep(1000)
  t.equal(sf.apiLimitPause()?.waiting, 101, 'every call is waiting at the gate')
  const pausedCalls = sandbox.apiCallCount() - callsAtClose
  sandbox.setApiUsage(0)
  const reopened = until(false)
  const results = await Promise.all([first, ...waiting])
  await reopened
  const pauseMs = Date.now() - closedAt
  const bound = Math.floor(pauseMs / PROBE_MS) + 1
  t.comment(`pause ${pauseMs} ms, interval ${PROBE_MS} ms: ${pausedCalls} calls during the pause`)
  t.ok(pausedCalls <= bound, `calls during the pause (${pausedCalls}) ≤ one probe per interval (${bound})`)
  t.ok(pausedCalls >= 1, 'the org was probed')
  t.equal(
    (sandbox.calls.query ?? 0) - queriesAtClose,
    101,
    'no query went out during the pause; each went out exactly once after it',
  )
  t.equal(results.length, 101)
  t.same(changes, [true, false], 'one pause: closed once, reopened once')
  t.equal(sf.apiLimitPause(), null)
})

t.test('a waiting call honours its AbortSignal promptly; whenLimited fail does not wait', async (t) => {
  const { sandbox, sf, until } = await limitedOrg(t)
  sandbox.setApiUsage(LIMIT)
  const tripping = sf.query('SELECT Id FROM Account').catch((e: unknown) => e)
  await until(true)
  const controller = new AbortController()
  const waiting = sf.query('SELECT Id FROM Account', { signal: controller.signal }).catch((e: unknown) => e)
  const begun = Date.now()
  controller.abort()
  t.match(await waiting, { code: 'CANCELLED' })
  t.ok(Date.now() - begun < 1000, 'aborted without waiting for the limit to lift')
  t.equal(sf.apiLimitPause()?.waiting, 1, 'the aborted call left the queue')

  const callsBefore = sandbox.apiCallCount()
  await t.rejects(sf.query('SELECT Id FROM Account', { whenLimited: 'fail' }), {
    code: 'API_LIMIT_EXCEEDED',
  })
  // Only probes may have gone out meanwhile.
  t.ok(sandbox.apiCallCount() - callsBefore <= 1, 'the failing call itself was not sent')
  sandbox.setApiUsage(0)
  t.notOk((await tripping) instanceof Error, 'the call that met the limit succeeds once it lifts')
})

t.test('authentication does not wait at the gate (readiness keeps answering)', async (t) => {
  const { sandbox, sf, until } = await limitedOrg(t)
  sandbox.setApiUsage(LIMIT)
  const tripping = sf.query('SELECT Id FROM Account')
  await until(true)
  await sf.checkAuth()
  t.pass('checkAuth answered while paused')
  sandbox.setApiUsage(0)
  await tripping
})

t.test('the gate releases waiters in arrival order and probes once per interval', async (t) => {
  let verdict: 'open' | 'limited' = 'limited'
  let probes = 0
  const gate = createApiLimitGate({
    probeIntervalMs: 20,
    logger: silent,
    probe: async () => {
      probes++
      return verdict
    },
  })
  t.teardown(() => gate.dispose())
  gate.trip()
  gate.trip()
  const order: number[] = []
  const passes = [0, 1, 2, 3, 4].map((i) => gate.pass().then(() => order.push(i)))
  await sleep(110)
  t.ok(
    probes >= 2 && probes <= 6,
    `about one probe per 20 ms interval, not one per trip or waiter (${probes})`,
  )
  t.same(order, [], 'nobody passes while the org is limited')
  verdict = 'open'
  await Promise.all(passes)
  t.same(order, [0, 1, 2, 3, 4], 'in arrival order')
  t.equal(gate.pause(), null)
  await gate.pass()
  t.pass('an open gate lets calls through at once')
})
