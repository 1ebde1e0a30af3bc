/**
 * Three service processes on one PostgreSQL schema against an endpoint that
 * allows 2 connections: all replicas together never hold more than 2.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type Socket, connect as tcpConnect } from 'node:net'
import t, { type Test } from 'tap'
import { type ChildService, waitForRunOver } from '../support/child-service.js'
import {
  assertExactlyOnce,
  post,
  replicaSetup,
  startReplicas,
  stopReplicas,
  submitExports,
  waitForJobs,
} from '../support/replicas.js'

// Three service processes and 300 files each time: under a loaded CI machine this is minutes, not seconds.
t.setTimeout(15 * 60_000)

async function countingRelay(t: Test, port: number): Promise<{ port: number; peak: () => number }> {
  let live = 0
  let peak = 0
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    live++
    peak = Math.max(peak, live)
    const upstream = tcpConnect(port, '127.0.0.1')
    for (const s of [client, upstream]) sockets.add(s)
    client.pipe(upstream).pipe(client)
    let counted = true
    const end = () => {
      if (counted) live--
      counted = false
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end).on('error', end)
    upstream.on('close', end).on('error', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  }
  t.teardown(close)
  return { port: (server.address() as { port: number }).port, peak: () => peak }
}

t.test('an endpoint allowing 2 connections gets at most 2 from all replicas together', async (t) => {
  const { setup, fileIds } = await replicaSetup(t, 64 * 1024)
  const relay = await countingRelay(t, setup.remote.port)
  const config = JSON.parse(await readFile(setup.configPath, 'utf8'))
  config.endpoints.partner = {
    ...config.endpoints.partner,
    port: relay.port,
    maxConnections: 2,
    idleCloseMs: 200,
  }
  await writeFile(setup.configPath, JSON.stringify(config))
  const replicas = await startReplicas(t, setup, 3)
  // Work for every replica at once: the run on one, exports on all three.
  const run = await post(replicas[0] as ChildService, '/v1/flows/bulk/runs')
  const jobs = await submitExports(replicas, fileIds)
  t.equal((await waitForRunOver(replicas[1] as ChildService, run.json.runId)).state, 'succeeded')
  t.same(
    [...new Set((await waitForJobs(replicas[2] as ChildService, jobs)).map((j) => j.state))],
    ['succeeded'],
  )
  t.ok(relay.peak() <= 2, `at most 2 connections open at once across 3 replicas (peak ${relay.peak()})`)
  t.ok(relay.peak() >= 1)
  await stopReplicas(replicas)
  await assertExactlyOnce(t, setup)
})
