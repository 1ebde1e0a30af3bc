/**
 * Three service processes on one PostgreSQL schema share the work: an
 * inbound run of 300 files and 100 export jobs spread across them are each
 * delivered exactly once (checked by listing the S-Drive records and the
 * remote files) — also when the replica driving them is killed with SIGKILL
 * in the middle, and the others take its runs over once its leases run out.
 */
import { randomBytes } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Socket, connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import pg from 'pg'
import pino from 'pino'
import t, { type Test } from 'tap'
import { createSalesforceApi } from '../../src/adapters/salesforce/index.js'
import { createSDrive } from '../../src/adapters/sdrive/index.js'
import { parseConfig } from '../../src/config/load.js'
import { SALESFORCE_FAULTS } from '../../src/sandbox/salesforce/index.js'
import {
  type ChildService,
  type ChildSetup,
  childApi,
  childSetup,
  exitCodeOf,
  waitForRunOver,
} from '../support/child-service.js'
import { startFaultProxy } from '../support/fault-proxy.js'
import { API_KEY, sdriveFiles, wipRecords } from '../support/harness.js'
import { seedSDriveFiles } from '../support/sdrive-seed.js'

// Three service processes and 300 files each time: under a loaded CI machine this is minutes, not seconds.
t.setTimeout(15 * 60_000)

const pgUrl = process.env.BRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const FILES = 300
const EXPORTS = 100

async function freshSchema(t: Test): Promise<string> {
  const name = `bridge_replicas_${randomBytes(5).toString('hex')}`
  t.teardown(async () => {
    const admin = new pg.Client({ connectionString: pgUrl })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
    await admin.end()
  })
  return name
}

async function replicaSetup(t: Test, fileSize: number): Promise<{ setup: ChildSetup; fileIds: string[] }> {
  const setup = await childSetup(t, {
    store: { postgresUrl: pgUrl, postgresSchema: await freshSchema(t), leaseMs: 6000 },
    flows: (endpoint) => [
      {
        name: 'deliver',
        kind: 'outbound',
        source: { object: 'Account', fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
        destination: { endpoint, directory: '/outbox', existing: 'overwrite' },
        retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 200 },
      },
    ],
  })
  for (let i = 0; i < FILES; i++) {
    await setup.dropFile(`ACME-001_doc-${String(i).padStart(3, '0')}.pdf`, Buffer.alloc(fileSize, i % 251))
  }
  // The documents the exports send: one S-Drive file each on Acme, seeded through the real protocol.
  const config = parseConfig(await readFile(setup.configPath, 'utf8'), 'json', setup.env)
  const logger = pino({ level: 'silent' })
  const sf = createSalesforceApi(config.salesforce, { logger })
  const sdrive = createSDrive(sf, config.sdrive, { logger })
  const acme = setup.sandbox.records('Account')[0]?.Id as string
  const fileIds = await seedSDriveFiles(
    sdrive,
    { parentId: acme, fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
    Array.from({ length: EXPORTS }, (_, i) => ({
      name: `out-${String(i).padStart(3, '0')}.pdf`,
      content: `export ${i}`,
    })),
  )
  return { setup, fileIds }
}

async function stopReplicas(replicas: ChildService[]): Promise<void> {
  for (const r of replicas) {
    // Already gone (exit code, or the signal that ended it): its 'exit' has fired and will not again.
    if (r.proc.exitCode !== null || r.proc.signalCode !== null) continue
    r.proc.kill('SIGKILL')
    await exitCodeOf(r.proc).catch(() => null)
  }
}

async function startReplicas(t: Test, setup: ChildSetup, n: number): Promise<ChildService[]> {
  const replicas = await Promise.all(Array.from({ length: n }, () => setup.start()))
  // Also stopped at the end of each test body: the setup's teardown (registered first, run first)
  // closes the SFTP server, which waits for the replicas' connections.
  t.teardown(() => stopReplicas(replicas))
  return replicas
}

async function post(child: ChildService, path: string, body?: unknown) {
  const res = await fetch(`${child.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, json: (await res.json()) as any }
}

/** Every file once in S-Drive, none left half-uploaded, every source moved; every export once on the server. */
async function assertExactlyOnce(t: Test, setup: ChildSetup): Promise<void> {
  const names = sdriveFiles(setup.sandbox).map((f) => String(f.cg__File_Name__c))
  const inbound = names.filter((n) => n.startsWith('ACME-001_doc-'))
  t.equal(inbound.length, FILES, `${FILES} inbound files in S-Drive`)
  t.equal(new Set(inbound).size, FILES, 'no duplicates')
  t.same(wipRecords(setup.sandbox), [], 'no half-uploaded (WIP) record left')
  t.equal((await readdir(join(setup.remoteRoot, 'processed'))).length, FILES, 'every source moved once')
  t.same(await readdir(join(setup.remoteRoot, 'inbox')), [], 'the inbox is empty')
  const outbox = (await readdir(join(setup.remoteRoot, 'outbox'))).sort()
  t.equal(outbox.length, EXPORTS, `${EXPORTS} exported files, no temporary or renamed copy`)
  t.same(
    outbox,
    Array.from({ length: EXPORTS }, (_, i) => `out-${String(i).padStart(3, '0')}.pdf`),
  )
}

async function submitExports(replicas: ChildService[], fileIds: string[]): Promise<string[]> {
  const jobs: string[] = []
  await Promise.all(
    fileIds.map(async (fileId, i) => {
      const res = await post(replicas[i % replicas.length] as ChildService, '/v1/exports', {
        flow: 'deliver',
        fileIds: [fileId],
      })
      if (res.status !== 202) throw new Error(`export refused: ${res.status} ${JSON.stringify(res.json)}`)
      jobs.push(res.json.jobId)
    }),
  )
  return jobs
}

async function waitForJobs(child: ChildService, jobs: string[]): Promise<any[]> {
  const finished: any[] = []
  for (const id of jobs) {
    for (;;) {
      const job = (await childApi(child, 'GET', `/v1/jobs/${id}`)).json
      if (!['queued', 'running', 'waiting_for_window'].includes(job.state)) {
        finished.push(job)
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return finished
}

t.test('three replicas share one PostgreSQL: every file exactly once', async (t) => {
  const began = Date.now()
  const { setup, fileIds } = await replicaSetup(t, 2048)
  const replicas = await startReplicas(t, setup, Number(process.env.REPLICAS ?? 3))
  const run = await post(replicas[1 % replicas.length] as ChildService, '/v1/flows/bulk/runs')
  t.equal(run.status, 202)
  const jobs = await submitExports(replicas, fileIds)
  const finished = await waitForRunOver(replicas[2 % replicas.length] as ChildService, run.json.runId)
  t.equal(finished.state, 'succeeded', 'the run is seen finished from another replica')
  t.equal(finished.counts.done, FILES)
  const finishedJobs = await waitForJobs(replicas[0] as ChildService, jobs)
  t.comment(`${FILES} files and ${EXPORTS} exports done ${Date.now() - began} ms after the setup began`)
  const failedJobs = finishedJobs.filter((j) => j.state !== 'succeeded')
  t.same(
    failedJobs.map((j) => [j.errorCode, j.errorMessage, j.files?.[0]?.errorCode, j.files?.[0]?.errorMessage]),
    [],
    `all ${EXPORTS} jobs succeeded`,
  )
  await stopReplicas(replicas)
  await assertExactlyOnce(t, setup)
})

t.test('a replica killed mid-transfer: the others finish its work after its leases run out', async (t) => {
  const { setup, fileIds } = await replicaSetup(t, 256 * 1024)
  const replicas = await startReplicas(t, setup, 3)
  const [victim, second, third] = replicas as [ChildService, ChildService, ChildService]
  const run = await post(victim, '/v1/flows/bulk/runs')
  const jobs = await submitExports([victim], fileIds)
  // Wait until the victim is well into the run: some files in S-Drive, most not.
  for (;;) {
    const done = sdriveFiles(setup.sandbox).filter((f) =>
      String(f.cg__File_Name__c).startsWith('ACME-001_doc-'),
    )
    if (done.length >= 20) break
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  victim.proc.kill('SIGKILL')
  t.equal(await exitCodeOf(victim.proc), null, 'killed, not exited')
  const inboundAtKill = sdriveFiles(setup.sandbox).filter((f) =>
    String(f.cg__File_Name__c).startsWith('ACME-001_doc-'),
  ).length
  t.ok(inboundAtKill < FILES, `killed part-way (${inboundAtKill} of ${FILES} inbound files in S-Drive then)`)
  const finished = await waitForRunOver(second, run.json.runId)
  t.equal(finished.state, 'succeeded', 'another replica finished the run')
  t.equal(finished.counts.done, FILES)
  const jobStates = (await waitForJobs(third, jobs)).map((j) => j.state)
  t.same([...new Set(jobStates)], ['succeeded'], 'and every export job')
  await stopReplicas(replicas)
  await assertExactlyOnce(t, setup)
})

t.test(
  'three replicas, every SFTP connection cut after 1 MiB and 503 on every fifth Salesforce call',
  async (t) => {
    const { setup, fileIds } = await replicaSetup(t, 16 * 1024)
    // The replicas reach the SFTP server through the fault proxy, and retry Salesforce a little longer.
    const proxy = await startFaultProxy({
      target: { host: '127.0.0.1', port: setup.remote.port },
      rule: { action: 'cut', afterBytes: 1024 * 1024 },
    })
    t.teardown(() => proxy.close())
    const config = JSON.parse(await readFile(setup.configPath, 'utf8'))
    config.endpoints.partner.port = proxy.port
    config.salesforce.maxRetries = 8
    await writeFile(setup.configPath, JSON.stringify(config))
    setup.sandbox.failEvery('rest', 5, SALESFORCE_FAULTS.unavailable)

    const replicas = await startReplicas(t, setup, 3)
    const run = await post(replicas[0] as ChildService, '/v1/flows/bulk/runs')
    const jobs = await submitExports(replicas, fileIds)
    const finished = await waitForRunOver(replicas[1] as ChildService, run.json.runId)
    t.equal(finished.state, 'succeeded')
    const finishedJobs = await waitForJobs(replicas[2] as ChildService, jobs)
    t.same(
      finishedJobs.filter((j) => j.state !== 'succeeded').map((j) => [j.errorCode, j.errorMessage]),
      [],
      `all ${EXPORTS} jobs succeeded`,
    )
    const stats = proxy.stats()
    t.ok(stats.cuts > 0, `connections were cut (${stats.cuts} of ${stats.connections})`)
    t.ok(
      (setup.sandbox.injectedFaults().query ?? 0) + (setup.sandbox.injectedFaults().apex ?? 0) > 0,
      '503s were answered',
    )
    t.comment(
      `cuts ${stats.cuts}/${stats.connections}, injected ${JSON.stringify(setup.sandbox.injectedFaults())}`,
    )
    await stopReplicas(replicas)
    // Before the setup's teardown closes the SFTP server, which waits for the proxy's connections to it.
    await proxy.close()
    await assertExactlyOnce(t, setup)
  },
)

/** A TCP relay that counts connections open at once (the SFTP server's view of the cap). */
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
