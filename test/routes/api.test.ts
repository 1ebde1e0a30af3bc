/** The HTTP contract over a real socket: auth, validation, errors, idempotency, backpressure. */
import t from 'tap'
import { API_KEY, REMOTE_PASSWORD, seedRecords, standardFlow, startHarness } from '../support/harness.js'

t.test('HTTP API', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    queue: { maxQueuedItems: 3 },
    flows: (endpoint) => [standardFlow(endpoint), standardFlow(endpoint, { name: 'other-flow' })],
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)

  t.test('health, readiness and docs are public; everything else needs the key', async (t) => {
    const open = async (path: string) => (await fetch(`${h.url}${path}`)).status
    t.equal(await open('/healthz'), 200)
    t.equal(await open('/readyz'), 200)
    t.equal(await open('/docs'), 200)
    t.equal(await open('/openapi.json'), 200)
    for (const path of ['/v1/flows', '/v1/runs', '/metrics']) {
      const res = await fetch(`${h.url}${path}`)
      t.equal(res.status, 401, `${path} without a key`)
      t.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED')
      const wrong = await fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${API_KEY}x` } })
      t.equal(wrong.status, 401, `${path} with a wrong key`)
    }
    t.equal((await h.api('GET', '/v1/flows')).status, 200)
  })

  t.test('one access log line per request: method, URL, status, time; no headers', async (t) => {
    const before = h.logs.length
    const res = await h.api('GET', '/v1/runs?limit=1', { headers: { cookie: 'session=secret-cookie' } })
    t.equal(res.status, 200)
    const lines = h.logs
      .slice(before)
      .join('')
      .split('\n')
      .filter((l) => l.includes('/v1/runs?limit=1'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    t.equal(lines.length, 1, 'exactly one line mentions the request')
    t.match(lines[0], {
      msg: 'request completed',
      method: 'GET',
      url: '/v1/runs?limit=1',
      statusCode: 200,
      responseTime: Number,
      reqId: String,
    })
    const text = h.logs.slice(before).join('')
    t.notOk(text.includes(API_KEY), 'the API key is not logged')
    t.notOk(text.includes('secret-cookie'), 'cookies are not logged')
  })

  t.test('credentials in a query string never reach the access log', async (t) => {
    const before = h.logs.length
    const omSecret = 'om-secret-in-the-query'
    const om = await fetch(`${h.url}/v1/outbound-messages/partner-docs?secret=${omSecret}&org=x`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: '<x/>',
    })
    t.ok(om.status >= 400, 'the probe is refused (no Outbound Messages on this flow)')
    await om.text()
    const viaQuery = await fetch(`${h.url}/v1/runs?limit=1&api_key=${API_KEY}`)
    t.equal(viaQuery.status, 401, '?api_key= is not accepted as authentication')
    await viaQuery.text()
    const names = ['token', 'key', 'access_token', 'password', 'signature', 'Secret', 'API_KEY']
    const query = names.map((n, i) => `${n}=q-secret-${i}`).join('&')
    t.equal((await h.api('GET', `/v1/runs?limit=1&${query}`)).status, 400, 'unknown parameters are refused…')
    const text = h.logs.slice(before).join('')
    t.notOk(text.includes(omSecret), 'the Outbound Message secret is not logged')
    t.notOk(text.includes(API_KEY), 'an API key in the query is not logged')
    t.notOk(/q-secret-\d/.test(text), '…and logged without their values')
    const urls = text
      .split('\n')
      .filter((l) => l.includes('request completed'))
      .map((l) => (JSON.parse(l) as { url: string }).url)
    t.same(urls, [
      '/v1/outbound-messages/partner-docs?[redacted]',
      '/v1/runs?limit=1&api_key=[redacted]',
      `/v1/runs?limit=1&${names.map((n) => `${n}=[redacted]`).join('&')}`,
    ])
  })

  t.test('bad input gets 400 naming the field', async (t) => {
    const limit = await h.api('GET', '/v1/runs?limit=0')
    t.equal(limit.status, 400)
    t.equal(limit.json.error.code, 'VALIDATION_FAILED')
    t.match(limit.json.error.message, /querystring\.limit/)
    const name = await h.api('POST', '/v1/flows/Bad%20Name/runs')
    t.equal(name.status, 400)
    t.match(name.json.error.message, /params\.flow/)
    const state = await h.api('GET', '/v1/runs?state=exploded')
    t.equal(state.status, 400)
    t.match(state.json.error.message, /querystring\.state/)
  })

  t.test('unknown things are 404 with a code', async (t) => {
    const flow = await h.api('POST', '/v1/flows/nope/runs')
    t.equal(flow.status, 404)
    t.equal(flow.json.error.code, 'NOT_FOUND')
    t.match(flow.json.error.message, /nope/)
    t.equal((await h.api('GET', '/v1/runs/run_doesnotexist')).status, 404)
    t.equal((await h.api('POST', '/v1/runs/run_doesnotexist/retry')).status, 404)
    t.equal((await h.api('GET', '/v1/flows/nope')).status, 404)
    t.equal((await h.api('GET', '/v2/anything')).status, 404)
  })

  t.test('an oversized body is 413', async (t) => {
    const res = await h.api('POST', '/v1/flows/partner-docs/runs', { body: { pad: 'x'.repeat(1_100_000) } })
    t.equal(res.status, 413)
    t.equal(res.json.error.code, 'PAYLOAD_TOO_LARGE')
  })

  t.test('Idempotency-Key: same key → same run; same key on another flow → 409', async (t) => {
    const headers = { 'idempotency-key': 'approval-42' }
    const a = await h.api('POST', '/v1/flows/partner-docs/runs', { headers })
    t.equal(a.status, 202)
    t.equal(a.json.created, true)
    const b = await h.api('POST', '/v1/flows/partner-docs/runs', { headers })
    t.equal(b.status, 202)
    t.equal(b.json.runId, a.json.runId)
    t.equal(b.json.created, false)
    const c = await h.api('POST', '/v1/flows/other-flow/runs', { headers })
    t.equal(c.status, 409)
    t.equal(c.json.error.code, 'CONFLICT')
    await h.waitForRun(a.json.runId)
  })

  t.test('runs list pages by cursor and filters', async (t) => {
    for (let i = 0; i < 3; i++) await h.runAndWait('other-flow')
    const page1 = await h.api('GET', '/v1/runs?flow=other-flow&limit=2')
    t.equal(page1.status, 200)
    t.equal(page1.json.runs.length, 2)
    t.ok(page1.json.nextCursor)
    const page2 = await h.api(
      'GET',
      `/v1/runs?flow=other-flow&limit=2&cursor=${encodeURIComponent(page1.json.nextCursor)}`,
    )
    t.equal(page2.json.runs.length, 1)
    t.equal(page2.json.nextCursor, null)
    t.ok(page1.json.runs.every((r: { flow: string }) => r.flow === 'other-flow'))
  })

  t.test('flows are shown with secrets redacted', async (t) => {
    const res = await h.api('GET', '/v1/flows/partner-docs')
    t.equal(res.status, 200)
    t.equal(res.json.endpoint.password, '[redacted]')
    t.notOk(JSON.stringify(res.json).includes(REMOTE_PASSWORD))
    const list = await h.api('GET', '/v1/flows')
    t.same(
      list.json.flows.map((f: { name: string }) => f.name),
      ['partner-docs', 'other-flow'],
    )
  })

  t.test('a full queue answers 429 with Retry-After and loses nothing', async (t) => {
    const store = h.server.bridge.store
    const { run } = (await store.createRun({ flow: 'other-flow', trigger: 'api' })) as { run: { id: string } }
    await store.addItems(
      run.id,
      [1, 2, 3].map((i) => ({
        endpoint: 'partner',
        path: `/elsewhere/${i}.pdf`,
        name: `${i}.pdf`,
        size: 1,
        modifiedAt: i,
        ledgerKey: `queue-full-${i}`,
        target: null,
      })),
    )
    const res = await h.api('POST', '/v1/flows/partner-docs/runs')
    t.equal(res.status, 429)
    t.equal(res.json.error.code, 'QUEUE_FULL')
    t.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After is set')
    t.equal((await store.activeItemCount()) >= 3, true, 'the queued items are still there')
    const items = await store.listItems(run.id)
    for (const item of items) await store.updateItem(item.id, { state: 'skipped' })
  })

  t.test('metrics are Prometheus text', async (t) => {
    const res = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })
    t.equal(res.status, 200)
    const text = await res.text()
    t.match(text, /# TYPE bridge_files_total counter/)
    t.match(text, /bridge_queue_depth/)
    t.match(text, /bridge_salesforce_api_usage \d+/)
  })
})
