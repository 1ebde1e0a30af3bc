/**
 * A service process killed with SIGKILL in the middle of a run and started
 * again finishes the run with exactly one S-Drive file per source file and
 * every source file moved: the ledger, the item states and WIP
 * reconciliation carry it across the crash.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { childApi, childSetup, exitCodeOf, waitForRunOver } from '../support/child-service.js'

const FILES = 120

t.test('SIGKILL mid-run, restart: exactly once, nothing lost', async (t) => {
  const setup = await childSetup(t, { queue: { maxConcurrentTransfers: 2 }, leaseMs: 3000 })
  const { sandbox, remoteRoot } = setup
  for (let i = 0; i < FILES; i++) {
    await setup.dropFile(`ACME-001_part-${String(i).padStart(3, '0')}.pdf`, Buffer.alloc(64 * 1024, i))
  }

  const first = await setup.start()
  const started = await childApi(first, 'POST', '/v1/flows/bulk/runs')
  t.equal(started.status, 202)
  const runId = started.json.runId as string

  // Kill once a handful of uploads reached S3: the run is certainly mid-way.
  while ((sandbox.calls.s3 ?? 0) < 10) await new Promise((resolve) => setImmediate(resolve))
  first.proc.kill('SIGKILL')
  await exitCodeOf(first.proc)
  const uploadedBeforeKill = sandbox.calls.s3 ?? 0
  t.ok(
    uploadedBeforeKill < FILES,
    `killed mid-run (${uploadedBeforeKill} of ${FILES} uploads had reached S3)`,
  )

  const second = await setup.start()
  t.teardown(() => {
    second.proc.kill('SIGTERM')
  })
  const run = await waitForRunOver(second, runId)
  t.equal(run.state, 'succeeded')
  t.equal(run.counts.done, FILES)

  const records = sandbox.records('cg__AccountFile__c')
  const finished = records.filter((r) => r.cg__WIP__c === false && r.cg__Is_Deleted__c !== true)
  const names = finished.map((r) => String(r.cg__File_Name__c))
  t.equal(finished.length, FILES, 'one S-Drive file per source file')
  t.equal(new Set(names).size, FILES, 'no duplicates')
  t.equal(records.filter((r) => r.cg__WIP__c === true).length, 0, 'no WIP record left')
  t.same(await readdir(join(remoteRoot, 'inbox')), [], 'every source file moved')
  t.equal((await readdir(join(remoteRoot, 'processed'))).length, FILES, 'all in the processed folder')
  second.proc.kill('SIGTERM')
  t.equal(await exitCodeOf(second.proc), 0, 'SIGTERM shuts down cleanly')
})
