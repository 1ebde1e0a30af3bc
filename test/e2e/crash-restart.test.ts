/**
 * A service process killed with SIGKILL in the middle of a run and started
 * again finishes the run with exactly one S-Drive file per source file and
 * every source file moved: the ledger, the item states and WIP
 * reconciliation carry it across the crash. The second case kills it while
 * batches of several records wait to share one PUT /files (their files all
 * in S3, none completed).
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import {
  type ChildSetup,
  childApi,
  childSetup,
  exitCodeOf,
  waitForRunOver,
} from '../support/child-service.js'

const FILES = 120

/** Restarts the service and checks the run ended with exactly one finished S-Drive file per source file. */
async function restartAndCheck(t: Test, setup: ChildSetup, runId: string, files: number): Promise<void> {
  const { sandbox, remoteRoot } = setup
  const second = await setup.start()
  t.teardown(() => {
    second.proc.kill('SIGTERM')
  })
  const run = await waitForRunOver(second, runId)
  t.equal(run.state, 'succeeded')
  t.equal(run.counts.done, files)

  const records = sandbox.records('cg__AccountFile__c')
  const finished = records.filter((r) => r.cg__WIP__c === false && r.cg__Is_Deleted__c !== true)
  const names = finished.map((r) => String(r.cg__File_Name__c))
  t.equal(finished.length, files, 'one S-Drive file per source file')
  t.equal(new Set(names).size, files, 'no duplicates')
  t.equal(records.filter((r) => r.cg__WIP__c === true).length, 0, 'no WIP record left')
  t.same(await readdir(join(remoteRoot, 'inbox')), [], 'every source file moved')
  t.equal((await readdir(join(remoteRoot, 'processed'))).length, files, 'all in the processed folder')
  second.proc.kill('SIGTERM')
  t.equal(await exitCodeOf(second.proc), 0, 'SIGTERM shuts down cleanly')
}

t.test('SIGKILL mid-run, restart: exactly once, nothing lost', async (t) => {
  const setup = await childSetup(t, { queue: { maxConcurrentTransfers: 2 }, leaseMs: 3000 })
  const { sandbox } = setup
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

  await restartAndCheck(t, setup, runId, FILES)
})

t.test('SIGKILL while batches wait for a shared PUT, restart: exactly once, no WIP left', async (t) => {
  const RECORDS = 4
  const PER_RECORD = 15
  // The wait outlasts the run: no batch completes before the last one is done uploading.
  const setup = await childSetup(t, {
    queue: { maxConcurrentTransfers: 2 },
    leaseMs: 3000,
    sdrive: { completionWaitMs: 600_000 },
  })
  const { sandbox } = setup
  for (let r = 1; r <= RECORDS; r++) {
    sandbox.insert('Account', { Name: `Shop ${r}`, AccountNumber: `SHOP-${r}` })
    for (let i = 0; i < PER_RECORD; i++)
      await setup.dropFile(
        `SHOP-${r}_image-${String(i).padStart(2, '0')}.png`,
        Buffer.alloc(16 * 1024, r * 31 + i),
      )
  }
  const files = RECORDS * PER_RECORD

  const first = await setup.start()
  const started = await childApi(first, 'POST', '/v1/flows/bulk/runs')
  t.equal(started.status, 202)
  const runId = started.json.runId as string
  // Two records' batches are in S3 and waiting for the others.
  while ((sandbox.calls.s3 ?? 0) < 2 * PER_RECORD + 1) await new Promise((resolve) => setImmediate(resolve))
  first.proc.kill('SIGKILL')
  await exitCodeOf(first.proc)
  t.equal(sandbox.calls['apex:PUT'] ?? 0, 0, 'killed before any PUT: every uploaded file was still WIP')
  t.ok(
    sandbox.records('cg__AccountFile__c').filter((r) => r.cg__WIP__c === true).length > 2 * PER_RECORD,
    'WIP records of uploaded files were left by the crash',
  )

  await restartAndCheck(t, setup, runId, files)
})
