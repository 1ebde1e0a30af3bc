/**
 * A notification survives the process that made it: the service is killed
 * with SIGKILL after the run's outcome (and its outbox row) is stored but
 * before the webhook got through (the receiver answers 503), and the next
 * process delivers it, once, with a signature the secret verifies.
 */
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { verifyWebhook } from '../../src/notify/signature.js'
import { childApi, childSetup, exitCodeOf, waitForRunOver } from '../support/child-service.js'

const SECRET = 'crash-test-hook-secret-6b1f'

/** A webhook receiver that refuses (503) while down and records what it accepts. */
async function startReceiver(t: Test) {
  const state = { down: true, refused: 0, accepted: [] as { headers: IncomingHttpHeaders; body: string }[] }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (state.down) {
        state.refused++
        res.writeHead(503).end()
        return
      }
      state.accepted.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      res.writeHead(204).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` }
}

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

t.test('SIGKILL between the event and the delivery: delivered after restart, once', async (t) => {
  const receiver = await startReceiver(t)
  const setup = await childSetup(t, {
    leaseMs: 3000,
    notifications: {
      channels: {
        'ops-hook': { type: 'webhook', url: receiver.url, secret: '${HOOK_SECRET}', timeoutMs: 5000 },
      },
      rules: [{ on: ['run.partially_failed', 'file.failed'], flows: ['*'], channel: 'ops-hook' }],
      pollIntervalMs: 50,
      retryBaseMs: 50,
      retryMaxMs: 200,
    },
  })
  setup.env.HOOK_SECRET = SECRET
  await setup.dropFile('ACME-001_contract.pdf', Buffer.from('signed'))
  await setup.dropFile('NOPE-404_invoice.pdf', Buffer.from('nobody'))

  const first = await setup.start()
  const started = await childApi(first, 'POST', '/v1/flows/bulk/runs')
  const run = await waitForRunOver(first, started.json.runId)
  t.equal(run.state, 'partially_failed')
  await until('a refused delivery attempt', () => receiver.state.refused >= 1)
  first.proc.kill('SIGKILL')
  await exitCodeOf(first.proc)
  t.same(receiver.state.accepted, [], 'nothing got through before the kill')

  receiver.state.down = false
  const second = await setup.start()
  t.teardown(() => {
    second.proc.kill('SIGTERM')
  })
  const sent = async () => {
    const { json } = await childApi(second, 'GET', '/v1/notifications')
    return json.notifications.length === 1 && json.notifications[0].state === 'sent'
      ? json.notifications[0]
      : null
  }
  await until('the outbox message sent', async () => (await sent()) !== null)
  const message = await sent()
  t.equal(receiver.state.accepted.length, 1, 'delivered once')
  t.ok(
    message.attempts >= 2,
    `refused before the kill, sent after the restart (${message.attempts} attempts)`,
  )
  const [delivery] = receiver.state.accepted
  t.equal(delivery?.headers['x-bridge-delivery'], message.id, 'the outbox id is the delivery id')
  t.ok(
    verifyWebhook(
      SECRET,
      String(delivery?.headers['x-bridge-timestamp']),
      delivery?.body ?? '',
      String(delivery?.headers['x-bridge-signature']),
    ),
    'the signature verifies with the secret',
  )
  t.match(JSON.parse(delivery?.body ?? '{}'), {
    event: 'run.partially_failed',
    runId: run.id,
    files: [{ path: '/inbox/NOPE-404_invoice.pdf' }],
  })
  second.proc.kill('SIGTERM')
  t.equal(await exitCodeOf(second.proc), 0)
})
