/**
 * The console's HTTP contract through inject: redirects without a session,
 * sign-in (double-submit token, rate limit, no key in logs), cookie
 * attributes, CSP, CSRF refusals, sign-out, idle and absolute expiry, and
 * pages that read one page of a 100,000-item run, counted at the store.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { CONTENT_SECURITY_POLICY } from '../../routes/console/index.js'
import { createSqliteStore } from '../../src/adapters/store/sqlite.js'
import { createSqliteRunLeases } from '../../src/adapters/store/sqlite-leases.js'
import { type Bridge, createBridge } from '../../src/bridge.js'
import { parseConfig } from '../../src/config/load.js'
import { createLogger } from '../../src/logging/logger.js'
import type { NewItem, Store } from '../../src/ports/store.js'
import { buildApp } from '../../src/server.js'

const KEY = 'console-test-key-0123456789'
const IDLE_MS = 60_000
const MAX_MS = 300_000
const BIG_RUN_ITEMS = 100_000

// Inserting 100,000 items takes a while on a busy 2-core machine.
t.setTimeout(10 * 60_000)

/** Store calls and the records they returned, to show a page reads a page and not the whole run. */
interface StoreReads {
  calls: Map<string, number>
  records: Map<string, number>
  reset(): void
}

function countingStore(store: Store): { store: Store; reads: StoreReads } {
  const reads: StoreReads = {
    calls: new Map(),
    records: new Map(),
    reset() {
      this.calls.clear()
      this.records.clear()
    },
  }
  const sizeOf = (value: unknown): number => {
    if (Array.isArray(value)) return value.length
    if (value && typeof value === 'object') {
      const v = value as { items?: unknown[]; runs?: unknown[] }
      return v.items?.length ?? v.runs?.length ?? 1
    }
    return value === null || value === undefined ? 0 : 1
  }
  const proxy = new Proxy(store, {
    get(target, name: string) {
      const member = Reflect.get(target, name) as unknown
      if (typeof member !== 'function') return member
      return async (...args: unknown[]) => {
        const result = await (member as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        reads.calls.set(name, (reads.calls.get(name) ?? 0) + 1)
        reads.records.set(name, (reads.records.get(name) ?? 0) + sizeOf(result))
        return result
      }
    },
  })
  return { store: proxy, reads }
}

interface Setup {
  app: FastifyInstance
  bridge: Bridge
  reads: StoreReads
  logs: string[]
  advance(ms: number): void
}

async function setup(t: Test): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-console-'))
  const sqlitePath = join(dir, 'bridge.sqlite')
  let offset = 0
  const clock = {
    now: () => Date.now() + offset,
    sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  }
  const config = parseConfig(
    JSON.stringify({
      server: {
        host: '127.0.0.1',
        port: 0,
        apiKeys: [KEY],
        trustProxy: true,
        console: { idleTimeoutMs: IDLE_MS, maxSessionMs: MAX_MS, signInAttemptsPerMinute: 3 },
      },
      store: { sqlitePath },
      salesforce: {
        loginUrl: 'http://127.0.0.1:9',
        auth: { type: 'client_credentials', clientId: 'id', clientSecret: 'secret' },
      },
      sdrive: { s3UploadUrl: 'http://127.0.0.1:9/s3' },
      endpoints: {
        partner: {
          protocol: 'sftp',
          host: '127.0.0.1',
          port: 9,
          username: 'u',
          password: 'p',
          insecureSkipHostKeyCheck: true,
        },
      },
      flows: [
        {
          name: 'partner-docs',
          kind: 'inbound',
          source: { endpoint: 'partner', directory: '/inbox' },
          match: [{ type: 'recordId', object: 'Account' }],
          target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
          after: { success: 'delete', errorDirectory: '/errors' },
        },
      ],
    }),
    'json',
    {},
  )
  const counted = countingStore(createSqliteStore({ path: sqlitePath, now: clock.now }))
  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'))
      cb()
    },
  })
  const bridge = await createBridge(config, createLogger({ level: 'debug', destination: sink }), {
    clock,
    store: counted.store,
    runLeases: createSqliteRunLeases({ path: sqlitePath }),
  })
  const app = await buildApp(bridge)
  t.teardown(async () => {
    await app.close()
    await bridge.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { app, bridge, reads: counted.reads, logs, advance: (ms) => (offset += ms) }
}

type Cookies = Record<string, string>

function cookiesOf(res: { headers: Record<string, unknown> }): { jar: Cookies; raw: string[] } {
  const header = res.headers['set-cookie']
  const raw = header === undefined ? [] : Array.isArray(header) ? (header as string[]) : [String(header)]
  const jar: Cookies = {}
  for (const line of raw) {
    const [pair] = line.split(';')
    const [name, ...value] = (pair ?? '').split('=')
    if (name) jar[name.trim()] = value.join('=')
  }
  return { jar, raw }
}

const cookieHeader = (jar: Cookies) =>
  Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ')

const csrfIn = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? ''

async function signIn(app: FastifyInstance, ip = '10.0.0.1', headers: Record<string, string> = {}) {
  const form = await app.inject({ method: 'GET', url: '/console/sign-in', headers })
  const login = cookiesOf(form).jar
  const res = await app.inject({
    method: 'POST',
    url: '/console/sign-in',
    headers: { cookie: cookieHeader(login), 'x-forwarded-for': ip, ...headers },
    payload: { _csrf: csrfIn(form.body), apiKey: KEY },
  })
  const session = cookiesOf(res)
  const cookie = `bridge_console=${session.jar.bridge_console}`
  const page = await app.inject({ method: 'GET', url: '/console', headers: { cookie } })
  return { res, cookie, setCookie: session.raw, csrf: csrfIn(page.body) }
}

function form(fields: Record<string, string>) {
  return {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  }
}

t.test('console over inject', async (t) => {
  const s = await setup(t)
  const { app } = s

  t.test('without a session every page is a 303 to the sign-in page, an API key included', async (t) => {
    for (const url of [
      '/console',
      '/console/runs',
      '/console/runs/run_x',
      '/console/endpoints',
      '/console/rejections',
      '/console/notifications',
    ]) {
      const res = await app.inject({ method: 'GET', url })
      t.equal(res.statusCode, 303, url)
      t.equal(res.headers.location, '/console/sign-in')
    }
    const withKey = await app.inject({
      method: 'GET',
      url: '/console',
      headers: { authorization: `Bearer ${KEY}` },
    })
    t.equal(withKey.statusCode, 303, 'the API key is not a console session')
    const post = await app.inject({
      method: 'POST',
      url: '/console/runs/run_x/retry',
      ...form({ _csrf: 'x' }),
    })
    t.equal(post.statusCode, 303, 'nor can a form be posted without one')
  })

  t.test('the console is not in the OpenAPI document', async (t) => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: object }
    t.notOk(Object.keys(doc.paths).some((p) => p.startsWith('/console')))
  })

  t.test(
    'sign-in: a session cookie, HttpOnly, SameSite=Strict, Path=/console; Secure behind TLS',
    async (t) => {
      const plain = await signIn(app)
      t.equal(plain.res.statusCode, 303)
      t.equal(plain.res.headers.location, '/console')
      const line = plain.setCookie.find((c) => c.startsWith('bridge_console='))
      t.match(line, /HttpOnly/i)
      t.match(line, /SameSite=Strict/i)
      t.match(line, /Path=\/console/)
      t.notMatch(line, /Secure/i, 'plain HTTP: no Secure')
      t.match(
        plain.setCookie.find((c) => c.startsWith('bridge_console_login=')),
        /Max-Age=0|Expires=Thu, 01 Jan 1970/i,
      )
      const proxied = await signIn(app, '10.0.0.2', { 'x-forwarded-proto': 'https' })
      t.match(
        proxied.setCookie.find((c) => c.startsWith('bridge_console=')),
        /Secure/i,
        'TLS at the proxy (trustProxy): Secure',
      )
      const page = await app.inject({ method: 'GET', url: '/console', headers: { cookie: plain.cookie } })
      t.equal(page.statusCode, 200)
      t.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY)
      t.equal(
        CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      )
      t.equal(page.headers['x-frame-options'], 'DENY')
      t.equal(page.headers['cache-control'], 'no-store')
      t.notMatch(page.body, /<script>|style=/, 'no inline script, no inline style')
      t.notOk(s.logs.join('').includes(KEY), 'the key is never logged')
    },
  )

  t.test('sign-in refusals: wrong key 401, no or wrong form token 403, too many attempts 429', async (t) => {
    const page = await app.inject({ method: 'GET', url: '/console/sign-in' })
    const login = cookieHeader(cookiesOf(page).jar)
    const attempt = (fields: Record<string, string>, cookie: string, ip: string) =>
      app.inject({
        method: 'POST',
        url: '/console/sign-in',
        headers: { cookie, 'x-forwarded-for': ip, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(fields).toString(),
      })
    const wrong = await attempt(
      { _csrf: csrfIn(page.body), apiKey: 'not-the-key-at-all-000' },
      login,
      '10.1.0.1',
    )
    t.equal(wrong.statusCode, 401)
    t.match(wrong.body, /apiKey: that API key is not accepted/)
    t.equal(cookiesOf(wrong).jar.bridge_console, undefined, 'no session')
    const noCookie = await attempt({ _csrf: csrfIn(page.body), apiKey: KEY }, '', '10.1.0.2')
    t.equal(noCookie.statusCode, 403, 'login CSRF: the form token without its cookie')
    t.match(noCookie.body, /CSRF_INVALID/)
    const forged = await attempt({ _csrf: 'forged', apiKey: KEY }, login, '10.1.0.3')
    t.equal(forged.statusCode, 403)
    const statuses: number[] = []
    for (let i = 0; i < 4; i++)
      statuses.push((await attempt({ _csrf: 'x', apiKey: 'y' }, login, '10.1.0.9')).statusCode)
    t.same(statuses, [403, 403, 403, 429], 'the fourth attempt in a minute from one client')
    const limited = await attempt({ _csrf: csrfIn(page.body), apiKey: KEY }, login, '10.1.0.9')
    t.equal(limited.statusCode, 429, 'even with the right key')
    t.ok(Number(limited.headers['retry-after']) > 0)
    t.match(limited.body, /TOO_MANY_ATTEMPTS/)
    const logged = s.logs.join('')
    t.notOk(
      logged.includes(KEY) || logged.includes('not-the-key-at-all-000'),
      'no key, right or wrong, is logged',
    )
    t.match(logged, /console sign-in refused/, 'a refusal is logged, without the key')
  })

  t.test('every POST needs the session’s CSRF token; sign-out ends the session', async (t) => {
    const { cookie, csrf } = await signIn(app, '10.2.0.1')
    t.ok(csrf.length > 20)
    const { run } = await s.bridge.store.createRun({ flow: 'partner-docs', trigger: 'api' })
    await s.bridge.store.updateRun(run.id, { state: 'failed' })
    const post = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
      app.inject({
        method: 'POST',
        url,
        headers: { cookie, ...form(fields).headers, ...headers },
        payload: form(fields).payload,
      })
    for (const url of [
      `/console/runs/${run.id}/retry`,
      `/console/runs/${run.id}/cancel`,
      '/console/sign-out',
    ]) {
      const missing = await post(url, {})
      t.equal(missing.statusCode, 403, `${url} without a token`)
      t.match(missing.body, /data-code="CSRF_INVALID"/)
      t.equal((await post(url, { _csrf: `${csrf}x` })).statusCode, 403, `${url} with a wrong token`)
    }
    const other = await signIn(app, '10.2.0.2')
    t.equal(
      (await post(`/console/runs/${run.id}/retry`, { _csrf: other.csrf })).statusCode,
      403,
      'another session’s token',
    )
    const viaHeader = await post(`/console/runs/${run.id}/retry`, {}, { 'x-csrf-token': csrf })
    t.equal(viaHeader.statusCode, 303, 'the X-CSRF-Token header (fetch)')
    t.equal(viaHeader.headers.location, `/console/runs/${run.id}?done=retry&n=0`)
    const cancel = await post(`/console/runs/${run.id}/cancel`, { _csrf: csrf })
    t.equal(cancel.statusCode, 409, 'a finished run cannot be cancelled')
    t.match(cancel.body, /CONFLICT/)

    const out = await post('/console/sign-out', { _csrf: csrf })
    t.equal(out.statusCode, 303)
    t.equal(out.headers.location, '/console/sign-in')
    t.match(cookiesOf(out).raw.join(), /bridge_console=;/)
    const after = await app.inject({ method: 'GET', url: '/console', headers: { cookie } })
    t.equal(after.statusCode, 303, 'the old cookie no longer signs in')
    t.notOk(s.logs.join('').includes(cookie.split('=')[1] as string), 'the session id is never logged')
  })

  t.test('cancel: a queued inbound run ends cancelled and lets its files go for a later run', async (t) => {
    const { cookie, csrf } = await signIn(app, '10.2.1.1')
    const { run } = await s.bridge.store.createRun({ flow: 'partner-docs', trigger: 'api' })
    const keys = [`cancel/${run.id}/a`, `cancel/${run.id}/b`]
    await s.bridge.store.addItems(
      run.id,
      keys.map((ledgerKey, i) => ({
        endpoint: 'partner',
        path: `/inbox/c${i}.pdf`,
        name: `c${i}.pdf`,
        size: 10,
        modifiedAt: 1_700_000_000_000,
        ledgerKey,
        target: null,
      })),
    )
    const res = await app.inject({
      method: 'POST',
      url: `/console/runs/${run.id}/cancel`,
      headers: { cookie, ...form({ _csrf: csrf }).headers },
      payload: form({ _csrf: csrf }).payload,
    })
    t.equal(res.statusCode, 303)
    t.equal(res.headers.location, `/console/runs/${run.id}?done=cancel`)
    const after = await s.bridge.store.getRun(run.id)
    t.match(after, { state: 'cancelled', error: { code: 'CANCELLED' } })
    const items = await s.bridge.store.listItems(run.id)
    t.same(
      items.map((i) => [i.state, i.error?.code]),
      [
        ['skipped', 'CANCELLED'],
        ['skipped', 'CANCELLED'],
      ],
    )
    t.equal((await s.bridge.store.ledgerOwners(keys)).size, 0, 'the files are free for the next run')
    const page = await app.inject({ method: 'GET', url: res.headers.location as string, headers: { cookie } })
    t.match(page.body, /Cancel requested/)
  })

  t.test('sessions end when idle, and at their absolute expiry however active', async (t) => {
    const idle = await signIn(app, '10.3.0.1')
    s.advance(IDLE_MS - 5_000)
    t.equal(
      (await app.inject({ method: 'GET', url: '/console/endpoints', headers: { cookie: idle.cookie } }))
        .statusCode,
      200,
    )
    s.advance(IDLE_MS + 1_000)
    const expired = await app.inject({
      method: 'GET',
      url: '/console/endpoints',
      headers: { cookie: idle.cookie },
    })
    t.equal(expired.statusCode, 303, 'idle longer than idleTimeoutMs')
    t.match(cookiesOf(expired).raw.join(), /bridge_console=;/, 'the dead cookie is cleared')

    const busy = await signIn(app, '10.3.0.2')
    let status = 200
    let elapsed = 0
    while (status === 200 && elapsed <= MAX_MS + IDLE_MS) {
      s.advance(IDLE_MS / 2)
      elapsed += IDLE_MS / 2
      status = (
        await app.inject({ method: 'GET', url: '/console/endpoints', headers: { cookie: busy.cookie } })
      ).statusCode
    }
    t.equal(status, 303)
    t.ok(elapsed >= MAX_MS && elapsed < MAX_MS + IDLE_MS, `ended after ${elapsed} ms of use, at maxSessionMs`)
  })

  t.test('bad parameters are a 400 naming the field', async (t) => {
    const { cookie } = await signIn(app, '10.4.0.1')
    const bad = await app.inject({ method: 'GET', url: '/console/runs?state=exploded', headers: { cookie } })
    t.equal(bad.statusCode, 400)
    t.match(bad.body, /querystring\.state/)
    const badFrom = await app.inject({
      method: 'GET',
      url: '/console/runs?from=2026-13-45T99:99',
      headers: { cookie },
    })
    t.equal(badFrom.statusCode, 400)
    t.match(badFrom.body, /from: must be an ISO 8601 date-time/)
    const missing = await app.inject({ method: 'GET', url: '/console/runs/run_nope', headers: { cookie } })
    t.equal(missing.statusCode, 404)
    const badOutbox = await app.inject({
      method: 'GET',
      url: '/console/notifications?state=lost',
      headers: { cookie },
    })
    t.equal(badOutbox.statusCode, 400)
    t.match(badOutbox.body, /querystring\.state/)
    const outbox = await app.inject({ method: 'GET', url: '/console/notifications', headers: { cookie } })
    t.equal(outbox.statusCode, 200)
    t.match(outbox.body, /No notifications/, 'an empty outbox says so')
  })

  t.test('a 100,000-item run: its page and the runs list read one page, not the run', async (t) => {
    const { run } = await s.bridge.store.createRun({ flow: 'partner-docs', trigger: 'api' })
    const items: NewItem[] = Array.from({ length: BIG_RUN_ITEMS }, (_, i) => ({
      endpoint: 'partner',
      path: `/inbox/file-${i}.pdf`,
      name: `file-${i}.pdf`,
      size: 1000 + i,
      modifiedAt: 1_700_000_000_000,
      ledgerKey: `big/${run.id}/${i}`,
      target: null,
      ...(i % 1000 === 7
        ? { state: 'failed' as const, error: { code: 'NO_MATCHING_RECORD', message: 'none' } }
        : {}),
    }))
    await s.bridge.store.addItems(run.id, items)
    for (let i = 0; i < 300; i++) await s.bridge.store.createRun({ flow: 'partner-docs', trigger: 'api' })
    const { cookie } = await signIn(app, '10.5.0.1')

    s.reads.reset()
    const page = await app.inject({ method: 'GET', url: `/console/runs/${run.id}`, headers: { cookie } })
    t.equal(page.statusCode, 200)
    t.match(page.body, new RegExp(`0 of ${BIG_RUN_ITEMS} files finished`))
    t.equal(s.reads.calls.get('listItems'), undefined, 'the run is never loaded whole')
    t.equal(s.reads.records.get('listRunItems'), 50, 'one page of items')
    const next = /href="([^"]*cursor=[^"]+)"/.exec(page.body)?.[1]?.replace(/&amp;/g, '&')
    t.ok(next, 'a link to the next page')

    s.reads.reset()
    const failed = await app.inject({
      method: 'GET',
      url: `/console/runs/${run.id}?state=failed`,
      headers: { cookie },
    })
    t.equal(failed.statusCode, 200)
    t.equal(s.reads.records.get('listRunItems'), 50)
    t.equal((failed.body.match(/NO_MATCHING_RECORD/g) ?? []).length, 50, 'failed items only')

    s.reads.reset()
    const runs = await app.inject({
      method: 'GET',
      url: '/console/runs?flow=partner-docs',
      headers: { cookie },
    })
    t.equal(runs.statusCode, 200)
    t.equal(s.reads.records.get('listRuns'), 50, 'one page of runs')
    t.equal(s.reads.calls.get('listItems'), undefined)
    t.equal(s.reads.calls.get('runCounts'), undefined, 'the list counts no items')
  })
})
