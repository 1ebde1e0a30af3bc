/**
 * Three service processes on one PostgreSQL schema while every SFTP
 * connection is cut after 1 MiB and Salesforce answers 503 to every fifth
 * call: every file is still delivered exactly once.
 */
import { readFile, writeFile } from 'node:fs/promises'
import t from 'tap'
import { SALESFORCE_FAULTS } from '../../src/sandbox/salesforce/index.js'
import { type ChildService, waitForRunOver } from '../support/child-service.js'
import { startFaultProxy } from '../support/fault-proxy.js'
import {
  assertExactlyOnce,
  EXPORTS,
  post,
  replicaSetup,
  startReplicas,
  stopReplicas,
  submitExports,
  waitForJobs,
} from '../support/replicas.js'

// Three service processes and 300 files each time: under a loaded CI machine this is minutes, not seconds.
t.setTimeout(15 * 60_000)

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
