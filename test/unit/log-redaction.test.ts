/** Log redaction: by key at any depth, in arrays, in errors; credential query parameters in URLs. */
import { Writable } from 'node:stream'
import t from 'tap'
import { describeProxy, proxyTarget } from '../../src/domain/proxy.js'
import { createLogger } from '../../src/logging/logger.js'
import { CENSOR, redactDeep, redactUrlQuery } from '../../src/logging/redact.js'

function capture() {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'))
      cb()
    },
  })
  return { logger: createLogger({ level: 'debug', destination: sink }), lines }
}

t.test(
  'query parameters are censored by name, case-insensitively; the rest of the URL is kept',
  async (t) => {
    t.equal(redactUrlQuery('/v1/runs?limit=1'), '/v1/runs?limit=1')
    t.equal(redactUrlQuery('/v1/runs'), '/v1/runs')
    t.equal(
      redactUrlQuery(
        '/v1/runs?limit=1&api_key=k1&Token=t1&KEY=x&access_token=a&password=p&signature=s&secret=z#frag',
      ),
      `/v1/runs?limit=1&api_key=${CENSOR}&Token=${CENSOR}&KEY=${CENSOR}&access_token=${CENSOR}&password=${CENSOR}&signature=${CENSOR}&secret=${CENSOR}#frag`,
    )
    t.equal(
      redactUrlQuery('/x?api%5Fkey=k1'),
      `/x?api%5Fkey=${CENSOR}`,
      'an encoded name is still recognised',
    )
    t.equal(redactUrlQuery('/x?secret'), `/x?secret=${CENSOR}`, 'a bare name stays censored')
    t.equal(redactUrlQuery('/x?keyword=on'), '/x?keyword=on', 'only whole names match')
    t.equal(
      redactUrlQuery('/v1/outbound-messages/partner-docs?secret=s3cr3t&x=1'),
      `/v1/outbound-messages/partner-docs?${CENSOR}`,
      'the Outbound Message route loses its whole query',
    )
    t.equal(redactUrlQuery('/v1/outbound-messages/partner-docs'), '/v1/outbound-messages/partner-docs')
  },
)

t.test('redactDeep reaches any depth and arrays, and copies only what it changes', async (t) => {
  const untouched = { a: { b: [{ c: 1 }] }, when: new Date(0) }
  t.equal(redactDeep(untouched), untouched, 'nothing to censor: the same object')
  const deep = { l1: { l2: { l3: { l4: { l5: { l6: { l7: { password: 'p7', keep: 'k' } } } } } } } }
  const out = redactDeep(deep)
  t.equal(out.l1.l2.l3.l4.l5.l6.l7.password, CENSOR)
  t.equal(out.l1.l2.l3.l4.l5.l6.l7.keep, 'k')
  t.equal(deep.l1.l2.l3.l4.l5.l6.l7.password, 'p7', 'the caller’s object is not changed')
  const list = redactDeep({
    endpoints: [[{ Authorization: 'Bearer x' }], { nested: [{ clientSecret: 'cs' }] }],
  })
  t.same(list, { endpoints: [[{ Authorization: CENSOR }], { nested: [{ clientSecret: CENSOR }] }] })
  t.same(redactDeep({ target: new URL('https://x.example/a?signature=s1&b=2') }), {
    target: `https://x.example/a?signature=${CENSOR}&b=2`,
  })
  const cyclic: Record<string, unknown> = { token: 't' }
  cyclic.self = cyclic
  t.equal((redactDeep(cyclic) as { token: string }).token, CENSOR, 'a cycle does not loop')
})

t.test('the logger censors a secret 8 levels deep, in arrays, in errors and in bindings', async (t) => {
  const { logger, lines } = capture()
  const secret = 'hunter2-very-secret'
  const error = Object.assign(new Error('login failed'), {
    config: { auth: { nested: { password: secret } } },
  })
  logger.child({ endpoint: { options: { passphrase: secret } } }).info(
    {
      a: { b: { c: { d: { e: { f: { g: { h: { api_key: secret } } } } } } } },
      list: [{ items: [{ refresh_token: secret }] }],
      err: error,
      cause: error,
      url: `/v1/runs?access_token=${secret}`,
      req: {
        method: 'GET',
        url: `/v1/outbound-messages/f?secret=${secret}`,
        headers: { authorization: secret },
      },
    },
    'probe',
  )
  const text = lines.join('')
  t.notOk(text.includes(secret), 'the secret appears nowhere')
  const line = JSON.parse(text) as Record<string, any>
  t.equal(line.a.b.c.d.e.f.g.h.api_key, CENSOR)
  t.equal(line.list[0].items[0].refresh_token, CENSOR)
  t.equal(line.err.message, 'login failed', 'the error keeps its message')
  t.equal(line.err.type, 'Error')
  t.equal(line.err.config.auth.nested.password, CENSOR)
  t.equal(line.cause.config.auth.nested.password, CENSOR)
  t.equal(line.url, `/v1/runs?access_token=${CENSOR}`)
  t.same(line.req, { method: 'GET', url: `/v1/outbound-messages/f?${CENSOR}` }, 'no headers, no query')
  t.equal(line.endpoint.options.passphrase, CENSOR)
})

t.test(
  'proxy credentials: the password key, a password in a proxy URL, a PROXY_AUTH_FAILED message',
  async (t) => {
    const { logger, lines } = capture()
    const secret = 'proxy-hunter2'
    const proxy = { url: `http://bridge:${secret}@proxy.corp:3128`, username: 'bridge', password: secret }
    const refused = proxyTarget(proxy)
    logger.info({ endpoint: { name: 'bank', proxy }, salesforce: { proxy } }, 'probe')
    logger.warn({ proxy: describeProxy(refused) }, 'through the proxy')
    const text = lines.join('')
    t.notOk(text.includes(secret), 'the proxy password appears nowhere')
    const line = JSON.parse(lines[0] as string) as Record<string, any>
    t.equal(line.endpoint.proxy.password, CENSOR)
    t.equal(line.endpoint.proxy.url, `http://bridge:${CENSOR}@proxy.corp:3128`, 'the URL keeps user and host')
    t.equal(
      JSON.parse(lines[1] as string).proxy,
      'http://proxy.corp:3128',
      'a proxy is described without its login',
    )
  },
)
