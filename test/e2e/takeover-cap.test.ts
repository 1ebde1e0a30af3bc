/**
 * The bound on takeovers (issue 18, defect 13): a file whose transfer was cut
 * by a crash costs no attempt, but one cut MAX_INTERRUPTIONS times (a file
 * that brings its process down every time) fails with TRANSFER_INTERRUPTED
 * instead of going round forever, its reason beside it in the error folder.
 * The service runs as a child process on SQLite and is killed with SIGKILL
 * while files are transferring; the count of earlier cuts is set in the
 * store between the kill and the restart.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { MAX_INTERRUPTIONS } from '../../src/domain/attempts.js'
import { childApi, childSetup, exitCodeOf, waitForRunOver } from '../support/child-service.js'
import { sdriveFiles, wipRecords } from '../support/harness.js'

const FILES = 12

t.test('a file cut by takeovers MAX_INTERRUPTIONS times fails; the others cost no attempt', async (t) => {
  const setup = await childSetup(t, { queue: { maxConcurrentTransfers: 1 } })
  // A short lease, so the restarted process takes the run over soon.
  const config = JSON.parse(await readFile(setup.configPath, 'utf8'))
  config.store.leaseMs = 2000
  await writeFile(setup.configPath, JSON.stringify(config))
  for (let i = 0; i < FILES; i++) {
    await setup.dropFile(`ACME-001_cut-${String(i).padStart(2, '0')}.pdf`, Buffer.alloc(512 * 1024, i))
  }
  const db = new Database(join(setup.dir, 'bridge.sqlite'))
  t.teardown(() => db.close())
  const transferring = () =>
    db.prepare(`SELECT id FROM items WHERE state = 'transferring' ORDER BY id`).all() as { id: string }[]

  const first = await setup.start()
  const started = await childApi(first, 'POST', '/v1/flows/bulk/runs')
  t.equal(started.status, 202)
  const runId = started.json.runId as string
  let cut: { id: string }[] = []
  // Two started: the first uploaded and waiting for its batch's completion, the second in flight.
  while (cut.length < 2) {
    cut = transferring()
    if (cut.length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  first.proc.kill('SIGKILL')
  await exitCodeOf(first.proc)
  cut = transferring()
  t.ok(cut.length >= 2 && cut.length < FILES, `killed while ${cut.length} files were transferring`)
  const waiting = db
    .prepare(`SELECT count(*) AS n FROM items WHERE state = 'pending' AND attempts > 0`)
    .get() as {
    n: number
  }
  t.equal(waiting.n, 0, 'files waiting for the upload queue used no attempt')

  // Cut once before this: one interruption short of the bound. The first cut file cut that often.
  const [worst, ...others] = cut as [{ id: string }, ...{ id: string }[]]
  const setCuts = db.prepare(`UPDATE items SET target = json_set(target, '$.interruptions', ?) WHERE id = ?`)
  setCuts.run(MAX_INTERRUPTIONS - 1, worst.id)
  for (const o of others) setCuts.run(1, o.id)

  const second = await setup.start()
  t.teardown(() => {
    second.proc.kill('SIGKILL')
  })
  const run = await waitForRunOver(second, runId)
  t.equal(run.state, 'partially_failed')
  t.equal(run.counts.failed, 1)
  t.equal(run.counts.done, FILES - 1)
  const failed = run.items.find((i: { state: string }) => i.state === 'failed')
  t.equal(failed.id, worst.id, 'the file cut too often failed')
  t.equal(failed.errorCode, 'TRANSFER_INTERRUPTED')

  const rows = db.prepare(`SELECT id, attempts, target FROM items`).all() as {
    id: string
    attempts: number
    target: string
  }[]
  const byId = new Map(rows.map((r) => [r.id, r]))
  t.equal(byId.get(worst.id)?.attempts, 0, 'its cut attempt was given back: it met no fault of its own')
  for (const o of others) {
    t.equal(byId.get(o.id)?.attempts, 1, 'a cut file: one attempt in all, the one that delivered it')
    t.equal(JSON.parse(byId.get(o.id)?.target as string).interruptions, 2, 'and its cut counted')
  }
  t.same(
    rows.filter((r) => r.attempts > 1).map((r) => r.id),
    [],
    'no file has more than one attempt (no faults were injected)',
  )

  const name = String(failed.name)
  t.same((await readdir(join(setup.remoteRoot, 'errors'))).sort(), [name, `${name}.error.json`])
  const report = JSON.parse(await readFile(join(setup.remoteRoot, 'errors', `${name}.error.json`), 'utf8'))
  t.equal(report.code, 'TRANSFER_INTERRUPTED')
  t.match(report.message, new RegExp(`${MAX_INTERRUPTIONS} times`))
  t.equal(sdriveFiles(setup.sandbox).length, FILES - 1, 'the others are in S-Drive once')
  t.same(wipRecords(setup.sandbox), [], 'no WIP record left')
  second.proc.kill('SIGTERM')
  await exitCodeOf(second.proc)
})
