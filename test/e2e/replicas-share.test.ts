/**
 * Three service processes on one PostgreSQL schema share the work: an
 * inbound run of 300 files and 100 export jobs spread across them are each
 * delivered exactly once (checked by listing the S-Drive records and the
 * remote files). One of four replica files (test/e2e/replicas-*.test.ts), split
 * so tap runs them side by side; each has its own schema.
 */
import t from 'tap'
import { type ChildService, waitForRunOver } from '../support/child-service.js'
import {
  assertExactlyOnce,
  EXPORTS,
  FILES,
  post,
  replicaSetup,
  startReplicas,
  stopReplicas,
  submitExports,
  waitForJobs,
} from '../support/replicas.js'

// Three service processes and 300 files each time: under a loaded CI machine this is minutes, not seconds.
t.setTimeout(15 * 60_000)

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
