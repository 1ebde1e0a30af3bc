/**
 * SIGTERM: the service stops taking requests, lets the transfer in flight
 * finish, leaves the files it had not started pending (not failed), exits
 * 0; the next start finishes them. A second signal exits at once.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { childApi, childSetup, exitCodeOf, waitForRunOver } from '../support/child-service.js'

const FILES = 40

t.test('SIGTERM drains; a second signal forces the exit', async (t) => {
  const setup = await childSetup(t, {
    server: { shutdownGraceMs: 20_000 },
    queue: { maxConcurrentTransfers: 1 },
    endpoint: { maxConnections: 1 },
  })
  const { sandbox, remoteRoot } = setup
  for (let i = 0; i < FILES; i++) {
    await setup.dropFile(`ACME-001_part-${String(i).padStart(3, '0')}.pdf`, Buffer.alloc(256 * 1024, i))
  }

  const first = await setup.start()
  const { runId } = (await childApi(first, 'POST', '/v1/flows/bulk/runs')).json
  while ((sandbox.calls.s3 ?? 0) < 3) await new Promise((resolve) => setImmediate(resolve))
  first.proc.kill('SIGTERM')
  t.equal(await exitCodeOf(first.proc), 0, 'SIGTERM: clean exit after draining')
  const afterDrain = sandbox.records('cg__AccountFile__c')
  t.equal(
    afterDrain.filter((r) => r.cg__WIP__c === true).length,
    0,
    'the transfer in flight finished: no WIP left',
  )
  const delivered = afterDrain.filter((r) => r.cg__WIP__c === false).length
  t.ok(delivered > 0 && delivered < FILES, `stopped part-way (${delivered} of ${FILES})`)

  const second = await setup.start()
  const run = await waitForRunOver(second, runId)
  t.equal(run.state, 'succeeded', 'the next start finished the run')
  t.equal(run.counts.failed, 0, 'nothing was marked failed by the shutdown')
  const all = sandbox.records('cg__AccountFile__c').filter((r) => r.cg__WIP__c === false)
  t.equal(all.length, FILES, 'every file exactly once')
  t.equal(new Set(all.map((r) => r.cg__File_Name__c)).size, FILES)
  t.same(await readdir(join(remoteRoot, 'inbox')), [])
  second.proc.kill('SIGTERM')
  t.equal(await exitCodeOf(second.proc), 0)

  // A second signal does not wait for the drain.
  const third = await setup.start()
  for (let i = 0; i < 5; i++) await setup.dropFile(`ACME-001_late-${i}.pdf`, Buffer.alloc(256 * 1024, i))
  const uploadsBefore = sandbox.calls.s3 ?? 0
  await childApi(third, 'POST', '/v1/flows/bulk/runs')
  while ((sandbox.calls.s3 ?? 0) <= uploadsBefore) await new Promise((resolve) => setImmediate(resolve))
  third.proc.kill('SIGTERM')
  third.proc.kill('SIGINT')
  t.equal(await exitCodeOf(third.proc), 1, 'a second signal during the drain exits at once with 1')
})
