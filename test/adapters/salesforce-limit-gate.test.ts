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
  const INTERVAL_MS = 20
  let verdict: 'open' | 'limited' = 'limited'
  // When each probe went out; the third one resolves `thirdProbe` (awaited, not slept for: on a
  // loaded machine a fixed 110 ms could hold fewer than two probe timers, or all of them at once).
  const probeTimes: number[] = []
  let thirdProbe: () => void = () => {}
  const threeProbes = new Promise<void>((resolve) => {
    thirdProbe = resolve
  })
  const gate = createApiLimitGate({
    probeIntervalMs: INTERVAL_MS,
    logger: silent,
    probe: async () => {
      probeTimes.push(performance.now())
      if (probeTimes.length === 3) thirdProbe()
      return verdict
    },
  })
  t.teardown(() => gate.dispose())
  const trippedAt = performance.now()
  gate.trip()
  gate.trip()
  const order: number[] = []
  const passes = [0, 1, 2, 3, 4].map((i) => gate.pass().then(() => order.push(i)))
  await threeProbes
  // A timer never fires early (1 ms of rounding aside), so the gaps have a floor whatever the load;
  // one probe per trip or per waiter would put several probes within one interval.
  const gaps = probeTimes.map((at, i) => at - (i === 0 ? trippedAt : (probeTimes[i - 1] as number)))
  t.ok(
    gaps.every((gap) => gap >= INTERVAL_MS - 1),
    `about one probe per ${INTERVAL_MS} ms interval, not one per trip or waiter (${probeTimes.length} probes, gaps ${gaps.map((g) => g.toFixed(1)).join(', ')} ms)`,
  )
  t.same(order, [], 'nobody passes while the org is limited')
  verdict = 'open'
  await Promise.all(passes)
  t.same(order, [0, 1, 2, 3, 4], 'in arrival order')
  t.equal(gate.pause(), null)
  await gate.pass()
  t.pass('an open gate lets calls through at once')
})
