/**
 * Three service processes on one PostgreSQL schema: the replica driving an
 * inbound run of 300 files and 100 exports is killed with SIGKILL in the
 * middle, and the others take its runs over once its leases run out; every
 * file is still delivered exactly once.
 */
import t from 'tap'
import { type ChildService, exitCodeOf, waitForRunOver } from '../support/child-service.js'
import { sdriveFiles } from '../support/harness.js'
import {
  assertExactlyOnce,
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
