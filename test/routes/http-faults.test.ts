/**
 * Requests refused before or at validation, over a real socket: an oversized
 * request line (414) or header block (431), an over-long path parameter
 * (414), a wrong content type (415), and a JSON body whose types are wrong
 * (400, never coerced). Every answer is `{"error": {"code", "message"}}`.
 */
import { connect } from 'node:net'
import t from 'tap'
import { API_KEY, standardFlow, startHarness } from '../support/harness.js'

/** Sends raw bytes and reads the whole answer (the server closes the connection after a parser fault). */
async function rawRequest(
  url: string,
  request: string,
): Promise<{ status: number; headers: string; body: string }> {
  const { hostname, port } = new URL(url)
  const answer = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(Number(port), hostname, () => socket.write(request))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may reset after answering; what arrived is the answer.
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('utf8'))
      else reject(error)
    })
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
  const split = answer.indexOf('\r\n\r\n')
  const headers = answer.slice(0, split)
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]), headers, body: answer.slice(split + 4) }
}

t.test('HTTP faults answer in the API error shape', async (t) => {
  const h = await startHarness({ protocol: 'sftp', flows: (e) => [standardFlow(e)] })
  t.teardown(() => h.close())

  t.test('a 20 KB URL is 414 URI_TOO_LONG', async (t) => {
    const res = await rawRequest(
      h.url,
      `GET /v1/runs?cursor=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    )
    t.equal(res.status, 414)
    t.match(res.headers, /content-type: application\/json/i)
    t.same(Object.keys(JSON.parse(res.body)), ['error'])
    t.match(JSON.parse(res.body), { error: { code: 'URI_TOO_LONG', message: /request line/ } })
  })

  t.test('a 40 KB header is 431 HEADERS_TOO_LARGE', async (t) => {
    const res = await rawRequest(
      h.url,
      `GET /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nX-Padding: ${'b'.repeat(40_000)}\r\n\r\n`,
    )
    t.equal(res.status, 431)
    t.same(Object.keys(JSON.parse(res.body)), ['error'])
    t.match(JSON.parse(res.body), { error: { code: 'HEADERS_TOO_LARGE', message: /headers/ } })
  })

  t.test('a path parameter over the router limit is 414 URI_TOO_LONG', async (t) => {
    const res = await h.api('GET', `/v1/jobs/${'j'.repeat(500)}`)
    t.equal(res.status, 414)
    t.same(Object.keys(res.json), ['error'])
    t.equal(res.json.error.code, 'URI_TOO_LONG')
    t.notMatch(res.json.error.message, /jjjj/, 'the long value is not echoed')
  })

  t.test('a wrong content type on a JSON route is 415 UNSUPPORTED_MEDIA_TYPE', async (t) => {
    for (const type of ['text/plain', 'application/xml', 'text/plain; charset=utf-8']) {
      const res = await h.api('POST', '/v1/exports', {
        headers: { 'content-type': type },
        body: { flow: 'contracts', recordIds: ['006000000000001AAA'] },
      })
      t.equal(res.status, 415, type)
      t.equal(res.json.error.code, 'UNSUPPORTED_MEDIA_TYPE')
      t.match(res.json.error.message, type.split(';')[0] as string)
    }
  })

  t.test('recordIds as a string or a number is refused, not coerced', async (t) => {
    for (const recordIds of ['006000000000001AAA', 6000000000001, true]) {
      const res = await h.api('POST', '/v1/exports', { body: { flow: 'contracts', recordIds } })
      t.equal(res.status, 400, JSON.stringify(recordIds))
      t.equal(res.json.error.code, 'VALIDATION_FAILED')
      t.match(res.json.error.message, /^body\.recordIds/)
      t.equal(res.json.error.details.field, 'body.recordIds')
    }
    const flow = await h.api('POST', '/v1/exports', { body: { flow: 12, recordIds: ['006000000000001AAA'] } })
    t.equal(flow.status, 400, 'a number for a string is refused too')
    t.match(flow.json.error.message, /^body\.flow/)
  })

  t.test('the querystring is still coerced: numbers and booleans arrive as strings', async (t) => {
    const runs = await h.api('GET', '/v1/runs?limit=2')
    t.equal(runs.status, 200)
    await h.put('inbox/ACME-001_plan.pdf', 'plan')
    const dry = await h.api('POST', '/v1/flows/partner-docs/runs?dryRun=true')
    t.equal(dry.status, 200, '"true" became true: a dry run')
    t.equal(dry.json.dryRun, true)
  })
})
