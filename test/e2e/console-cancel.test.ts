/**
 * Cancel from the console while a run is moving a file: the run's driver
 * stops it and finishes it cancelled; the file being transferred and the
 * ones not started are let go (skipped, ledger claims released), so the
 * next run takes them.
 */
import { once } from 'node:events'
import t from 'tap'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js'
import {
  API_KEY,
  endpointConfig,
  type RemoteServerHandle,
  seedRecords,
  standardFlow,
  startHarness,
  startRemoteServer,
} from '../support/harness.js'

const MiB = 1024 * 1024

t.setTimeout(5 * 60_000)

t.test('cancel a running inbound run from the console', async (t) => {
  let proxy: FaultProxy | null = null
  const h = await startHarness({
    protocol: 'sftp',
    flows: (e) => [standardFlow(e)],
    remoteServer: {
      async start(root) {
        const server = await startRemoteServer('sftp', root)
        proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port }, rule: null })
        const through: RemoteServerHandle = {
          ...server,
          port: proxy.port,
          close: async () => {
            await proxy?.close()
            await server.close()
          },
        }
        return { remote: through, endpoint: endpointConfig('sftp', through) }
      },
    },
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  await h.put('inbox/ACME-001_big.pdf', Buffer.alloc(8 * MiB, 7))
  await h.put('inbox/GLOBEX-7_small.pdf', 'small')
  const faults = proxy as unknown as FaultProxy
  // Listing and login pass; the big file's bytes stop after 2 MiB towards the bridge.
  faults.setRule({ action: 'stall', afterBytes: 2 * MiB, direction: 'toClient' })
  const stalled = once(faults.events, 'stall')

  const started = await h.api('POST', '/v1/flows/partner-docs/runs')
  t.equal(started.status, 202)
  const runId = started.json.runId as string
  await stalled

  const app = h.server.app
  const form = await app.inject({ method: 'GET', url: '/console/sign-in' })
  const loginCookie = String(form.headers['set-cookie']).split(';')[0]
  const token = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? ''
  const signedIn = await app.inject({
    method: 'POST',
    url: '/console/sign-in',
    headers: { cookie: loginCookie },
    payload: { _csrf: token, apiKey: API_KEY },
  })
  const cookie = String(signedIn.headers['set-cookie']).match(/bridge_console=[^;]+/)?.[0] ?? ''
  const page = await app.inject({ method: 'GET', url: `/console/runs/${runId}`, headers: { cookie } })
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? ''
  t.match(page.body, /Cancel/, 'a running run offers Cancel')

  const cancel = await app.inject({
    method: 'POST',
    url: `/console/runs/${runId}/cancel`,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: csrf }).toString(),
  })
  t.equal(cancel.statusCode, 303)
  faults.setRule(null)
  faults.release()
  await h.server.bridge.engine.settled(runId)
  const run = (await h.api('GET', `/v1/runs/${runId}`)).json
  t.equal(run.state, 'cancelled')
  t.equal(run.errorCode, 'CANCELLED')
  const big = run.items.find((i: { name: string }) => i.name === 'ACME-001_big.pdf')
  t.match(big, { state: 'skipped', errorCode: 'CANCELLED' }, 'the file in flight is let go')
  t.ok(await h.exists('inbox/ACME-001_big.pdf'), 'and stays on the server')

  const again = await h.runAndWait('partner-docs')
  t.equal(again.items.find((i) => i.name === 'ACME-001_big.pdf')?.state, 'done', 'the next run takes it')
})
