/**
 * The webhook channel against a real HTTP server on 127.0.0.1: the deadline
 * holds against a receiver that never answers, statuses map to retry or
 * fail, and a redirect is not followed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { deliverWebhook } from '../../src/notify/channels/webhook.js'
import type { OutboxMessage } from '../../src/ports/store.js'

const message: OutboxMessage = {
  id: 'ntf_1',
  dedupeKey: 'k',
  channel: 'hook',
  event: 'run.failed',
  flow: 'f',
  runId: 'run_1',
  body: { event: 'run.failed', text: 'x', files: [], more: 0 },
  state: 'sending',
  attempts: 1,
  nextAttemptAt: '2026-01-01T00:00:00.000Z',
  leaseOwner: 'w',
  leaseUntil: null,
  lastError: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  sentAt: null,
}

async function receiver(t: Test, handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret-path`
}

const channel = (url: string, timeoutMs = 5000) =>
  ({ type: 'webhook', url, secret: 'sixteen-chars-secret', rateLimit: { perMinute: 6 }, timeoutMs }) as const

t.test('a receiver that never answers is cut at the deadline, as a transient fault', async (t) => {
  const url = await receiver(t, () => {})
  const started = Date.now()
  await t.rejects(deliverWebhook(channel(url, 200), message, Date.now(), AbortSignal.timeout(200)), {
    code: 'NOTIFICATION_UNAVAILABLE',
    transient: true,
    message: /no answer within 200 ms/,
  })
  t.ok(Date.now() - started < 5000, 'well before any default timeout')
})

t.test(
  'statuses: 2xx sent; 408, 429, 5xx retried; other 4xx and redirects final; the path never in the error',
  async (t) => {
    let status = 200
    const url = await receiver(t, (req, res) => {
      req.resume()
      res.writeHead(status, status === 302 ? { location: 'http://127.0.0.1:1/elsewhere' } : {}).end()
    })
    const send = () => deliverWebhook(channel(url), message, Date.now(), AbortSignal.timeout(5000))
    await send()
    for (const retried of [408, 429, 500, 503]) {
      status = retried
      await t.rejects(send(), { code: 'NOTIFICATION_UNAVAILABLE', transient: true }, String(retried))
    }
    for (const final of [400, 404, 410, 302]) {
      status = final
      const error = await send().catch((e: Error) => e)
      t.match(error, { code: 'NOTIFICATION_REJECTED', transient: false }, String(final))
      t.notOk(String((error as Error).message).includes('secret-path'), 'the URL path is not in the error')
    }
  },
)
