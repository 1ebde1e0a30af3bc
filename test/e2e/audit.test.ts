/**
 * The audit trail end to end over real sockets: an inbound run and an
 * export job each log one 'file outcome' line per file, `GET /v1/audit`
 * answers the same outcomes (paged by cursor), the export job's end line
 * carries its Idempotency-Key, and `X-Request-Id` is taken and echoed.
 */
import { createHash } from 'node:crypto'
import t from 'tap'
import {
  API_KEY,
  OPPORTUNITY_SOURCE,
  REMOTE_PASSWORD,
  seedRecords,
  standardFlow,
  startHarness,
} from '../support/harness.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

type Line = Record<string, unknown> & { msg: string }

function logLines(logs: string[]): Line[] {
  return logs
    .join('')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line)
}

function exportFlow(endpoint: string) {
  return {
    name: 'contracts',
    kind: 'outbound',
    source: OPPORTUNITY_SOURCE,
    destination: { endpoint, directory: '/outbox', fileName: '{file.name}' },
    retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
  }
}

t.test('file outcomes in the log and in GET /v1/audit', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    flows: (endpoint) => [standardFlow(endpoint), exportFlow(endpoint)],
  })
  t.teardown(() => h.close())
  const ids = seedRecords(h.sandbox)
  const since = new Date(Date.now() - 1000).toISOString()

  await h.put('inbox/ACME-001_contract.pdf', 'acme contract')
  await h.put('inbox/NOPE-999_x.pdf', 'nobody')
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'partially_failed')
  const byName = Object.fromEntries(run.items.map((i) => [i.name, i]))
  const matched = byName['ACME-001_contract.pdf']!
  const unmatched = byName['NOPE-999_x.pdf']!

  const outcomes = () => logLines(h.logs).filter((l) => l.msg === 'file outcome')
  t.equal(outcomes().length, 2, 'one line per file')
  const done = outcomes().find((l) => l.item === matched.id)
  t.match(done, {
    level: 30,
    component: 'audit',
    kind: 'inbound',
    flow: 'partner-docs',
    run: run.id,
    outcome: 'done',
    code: null,
    sourcePath: '/inbox/ACME-001_contract.pdf',
    finalPath: '/processed/ACME-001_contract.pdf',
    object: 'Account',
    sdriveFileId: matched.sdriveFileId,
    bytes: Buffer.byteLength('acme contract'),
    sha256: sha256('acme contract'),
    attempts: 1,
  })
  t.equal(String(done?.recordId).slice(0, 15), ids.acme.slice(0, 15), 'the record it went to')
  t.type(done?.durationMs, 'number')
  t.match(
    outcomes().find((l) => l.item === unmatched.id),
    {
      kind: 'inbound',
      run: run.id,
      outcome: 'failed',
      code: 'NO_MATCHING_RECORD',
      sourcePath: '/inbox/NOPE-999_x.pdf',
      finalPath: '/errors/NOPE-999_x.pdf',
      recordId: null,
      sdriveFileId: null,
      bytes: 0,
    },
  )

  const page = await h.api('GET', `/v1/audit?since=${encodeURIComponent(since)}`)
  t.equal(page.status, 200)
  t.equal(page.json.nextCursor, null)
  t.same(page.json.items.map((i: { itemId: string }) => i.itemId).sort(), [matched.id, unmatched.id].sort())
  t.match(
    page.json.items.find((i: { itemId: string }) => i.itemId === matched.id),
    {
      flow: 'partner-docs',
      runId: run.id,
      kind: 'inbound',
      outcome: 'done',
      code: null,
      sourcePath: '/inbox/ACME-001_contract.pdf',
      finalPath: '/processed/ACME-001_contract.pdf',
      object: 'Account',
      recordId: done?.recordId,
      sdriveFileId: matched.sdriveFileId,
      bytes: Buffer.byteLength('acme contract'),
      sha256: sha256('acme contract'),
      attempts: 1,
    },
    'the API says what the log line says',
  )
  t.match(
    page.json.items.find((i: { itemId: string }) => i.itemId === unmatched.id),
    {
      outcome: 'failed',
      code: 'NO_MATCHING_RECORD',
      finalPath: '/errors/NOPE-999_x.pdf',
    },
  )

  const walked: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const query: string = `since=${encodeURIComponent(since)}&limit=1${cursor ? `&cursor=${cursor}` : ''}`
    const res = await h.api('GET', `/v1/audit?${query}`)
    t.equal(res.status, 200)
    t.equal(res.json.items.length, 1)
    walked.push(res.json.items[0].itemId)
    cursor = res.json.nextCursor
    pages++
  } while (cursor !== null && pages < 5)
  t.same(
    walked,
    page.json.items.map((i: { itemId: string }) => i.itemId),
    'limit=1 walks both, in order',
  )
  t.equal(pages, 2)

  const opp = h.sandbox.insert('Opportunity', { Name: 'Audit deal', StageName: 'Closed Won' })
  const [fileId] = await seedSDriveFiles(h.server.bridge.sdrive, { parentId: opp, ...OPPORTUNITY_SOURCE }, [
    { name: 'deal.pdf', content: 'the deal' },
  ])
  const submitted = await h.api('POST', '/v1/exports', {
    body: { flow: 'contracts', recordIds: [opp] },
    headers: { 'idempotency-key': 'audit-key-7' },
  })
  t.equal(submitted.status, 202)
  const jobId = submitted.json.jobId as string
  await h.server.bridge.exports.settled(jobId)
  const exported = outcomes().find((l) => l.run === jobId)
  t.match(exported, {
    kind: 'outbound',
    flow: 'contracts',
    outcome: 'done',
    sourcePath: null,
    finalPath: '/outbox/deal.pdf',
    object: 'Opportunity',
    sdriveFileId: fileId,
    bytes: Buffer.byteLength('the deal'),
    sha256: sha256('the deal'),
  })
  t.ok(
    logLines(h.logs).some(
      (l) => l.msg === 'export job finished' && l.run === jobId && l.idempotencyKey === 'audit-key-7',
    ),
    "the job's end line carries its Idempotency-Key",
  )
  const all = await h.api('GET', `/v1/audit?since=${encodeURIComponent(since)}`)
  t.match(
    all.json.items.find((i: { runId: string }) => i.runId === jobId),
    { kind: 'outbound', outcome: 'done', sdriveFileId: fileId, finalPath: '/outbox/deal.pdf' },
  )

  const auditText = outcomes()
    .map((l) => JSON.stringify(l))
    .join('\n')
  for (const secret of [REMOTE_PASSWORD, h.sandbox.clientSecret, API_KEY]) {
    t.notOk(auditText.includes(secret), 'no secret in the audit lines')
  }
})

t.test('GET /v1/audit refuses a bad since, limit or cursor, naming the field', async (t) => {
  const h = await startHarness({ protocol: 'sftp', flows: (endpoint) => [standardFlow(endpoint)] })
  t.teardown(() => h.close())
  const cases: [string, string][] = [
    ['since=yesterday', 'querystring.since'],
    ['limit=0', 'querystring.limit'],
    ['limit=1001', 'querystring.limit'],
  ]
  for (const [query, field] of cases) {
    const res = await h.api('GET', `/v1/audit?${query}`)
    t.equal(res.status, 400, query)
    t.match(res.json, { error: { code: 'VALIDATION_FAILED', details: { field } } }, query)
  }
  const badCursor = await h.api('GET', '/v1/audit?cursor=not-a-cursor')
  t.equal(badCursor.status, 400)
  t.match(badCursor.json, {
    error: { code: 'VALIDATION_FAILED', message: /cursor/, details: { field: 'cursor' } },
  })
  const token = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const hostile: [string, number, string][] = [
    ['x'.repeat(201), 400, 'querystring.cursor'],
    [token({ updatedAt: '2026-01-01T00:00:00Z', id: 'x' }), 400, 'cursor'],
    [token(['not a date', 'x']), 400, 'cursor'],
    [token(['2026-01-01T00:00:00Z', 7]), 400, 'cursor'],
    [token([[['deep']], 'x']), 400, 'cursor'],
  ]
  for (const [cursor, status, field] of hostile) {
    const res = await h.api('GET', `/v1/audit?cursor=${encodeURIComponent(cursor)}`)
    t.equal(res.status, status, `cursor ${cursor.slice(0, 40)}`)
    t.match(res.json, { error: { code: 'VALIDATION_FAILED', details: { field } } })
  }
  // An id that looks like SQL is a bound value, nothing more: the page after it is simply empty.
  const injected = await h.api('GET', `/v1/audit?cursor=${token(['2999-01-01T00:00:00Z', "x' OR '1'='1"])}`)
  t.equal(injected.status, 200)
  t.same(injected.json.items, [])
  t.equal(injected.json.nextCursor, null)
  const anonymous = await fetch(`${h.url}/v1/audit`)
  t.equal(anonymous.status, 401, 'auth like the other /v1 routes')
})

t.test('X-Request-Id is taken as the request id and echoed on every answer', async (t) => {
  const h = await startHarness({ protocol: 'sftp', flows: (endpoint) => [standardFlow(endpoint)] })
  t.teardown(() => h.close())

  const ok = await h.api('GET', '/v1/audit', { headers: { 'x-request-id': 'audit-req-42' } })
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('x-request-id'), 'audit-req-42')
  t.ok(
    logLines(h.logs).some((l) => l.msg === 'request completed' && l.reqId === 'audit-req-42'),
    'its log line carries the id',
  )

  const refused = await fetch(`${h.url}/v1/audit`, { headers: { 'x-request-id': 'audit-req-43' } })
  t.equal(refused.status, 401)
  t.equal(refused.headers.get('x-request-id'), 'audit-req-43', 'errors echo it too')
  const missing = await h.api('GET', '/v1/nowhere', { headers: { 'x-request-id': 'audit-req-44' } })
  t.equal(missing.status, 404)
  t.equal(missing.headers.get('x-request-id'), 'audit-req-44')
  const badUrl = await fetch(`${h.url}/v1/runs/%E0%A4%A`, { headers: { 'x-request-id': 'audit-req-45' } })
  t.equal(badUrl.status, 400)
  t.equal(badUrl.headers.get('x-request-id'), 'audit-req-45', 'a router fault echoes it')

  const fresh = await h.api('GET', '/v1/audit')
  t.match(fresh.headers.get('x-request-id'), /^[0-9a-f-]{36}$/, 'none given: a fresh one')
  for (const refusedId of ['x'.repeat(129), 'tab\there']) {
    const res = await h.api('GET', '/v1/audit', { headers: { 'x-request-id': refusedId } })
    t.match(
      res.headers.get('x-request-id'),
      /^[0-9a-f-]{36}$/,
      'not printable ASCII of at most 128: a fresh one',
    )
  }
})
