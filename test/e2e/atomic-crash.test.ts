/**
 * Atomic batches across a crash: a versioned catalogue folder dropped again
 * with one corrupt file, the service killed with SIGKILL (1) after the
 * uploads, while S-Drive refuses the rollback, or (2) in the middle of the
 * uploads, then started again, ends the same way: none of the new versions
 * is left, every earlier version is the current one again, no WIP record,
 * and the whole folder is in the error directory with one report.
 */
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import {
  type ChildService,
  type ChildSetup,
  childApi,
  childSetup,
  exitCodeOf,
  waitForRunOver,
} from '../support/child-service.js'

const FILES = 10
const CORRUPT = 9
const name = (i: number) => `ACME-001_sheet-${String(i).padStart(2, '0')}.pdf`
const edition = (i: number, n: number) => Buffer.alloc(48 * 1024 + n, (i * 7 + n) % 251)

async function setUp(t: Test): Promise<ChildSetup> {
  return childSetup(t, {
    queue: { maxConcurrentTransfers: 2 },
    leaseMs: 3000,
    flows: (endpoint) => [
      {
        name: 'catalogue',
        kind: 'inbound',
        source: { endpoint, directory: '/catalogue', recursive: true },
        readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
        match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
        target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
        existing: 'version',
        batch: { atomic: true },
        after: {
          success: 'move',
          processedDirectory: '/catalogue-done',
          errorDirectory: '/catalogue-errors',
        },
        retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 50 },
      },
    ],
  })
}

async function drop(setup: ChildSetup, n: number, ageSeconds: number) {
  const dir = join(setup.remoteRoot, 'catalogue', 'spring')
  await mkdir(dir, { recursive: true })
  const when = (Date.now() - ageSeconds * 1000) / 1000
  for (let i = 0; i < FILES; i++) {
    await writeFile(join(dir, name(i)), edition(i, n))
    await utimes(join(dir, name(i)), when, when)
  }
}

const current = (setup: ChildSetup) =>
  setup.sandbox
    .records('cg__AccountFile__c')
    .filter((r) => r.cg__WIP__c === false && r.cg__Is_Deleted__c !== true)

/**
 * Runs the first edition in, drops the second (one file corrupt) and starts its run (`arm` first);
 * returns its id and the S3 calls counted before it.
 */
async function secondEditionRun(setup: ChildSetup, child: ChildService, arm: () => void = () => {}) {
  await drop(setup, 1, 3600)
  const first = await childApi(child, 'POST', '/v1/flows/catalogue/runs')
  const done = await waitForRunOver(child, first.json.runId)
  if (done.counts.done !== FILES) throw new Error(`first edition: ${JSON.stringify(done.counts)}`)
  await drop(setup, 2, 1800)
  setup.sandbox.corruptUploads([name(CORRUPT)])
  arm()
  const s3AtStart = setup.sandbox.calls.s3 ?? 0
  const started = await childApi(child, 'POST', '/v1/flows/catalogue/runs')
  return { runId: started.json.runId as string, s3AtStart }
}

async function until(condition: () => boolean) {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve))
}

async function assertUndone(t: Test, setup: ChildSetup, child: ChildService, runId: string) {
  const run = await waitForRunOver(child, runId)
  t.equal(run.state, 'failed', 'every file of the batch failed')
  const codes = new Map<string, string>(
    run.items.map((i: { name: string; errorCode: string }) => [i.name, i.errorCode]),
  )
  t.equal(codes.get(name(CORRUPT)), 'CHECKSUM_MISMATCH')
  const others = [...codes].filter(([n]) => n !== name(CORRUPT)).map(([, code]) => code)
  t.ok(
    others.every((code) => code === 'BATCH_ROLLED_BACK' || code === 'BATCH_ABORTED'),
    `the others are undone: ${[...new Set(others)].join(', ')}`,
  )
  for (let i = 0; i < FILES; i++) {
    const mine = current(setup).filter((f) => f.cg__File_Name__c === name(i))
    if (mine.length !== 1 || mine[0]?.cg__Is_Latest_Version__c !== true) {
      t.fail(`${name(i)}: ${mine.length} current file(s); expected the first edition alone, latest`)
      continue
    }
    const bytes = await setup.sandbox.s3Object(String(mine[0]?.cg__Key__c))
    if (!bytes?.equals(edition(i, 1))) t.fail(`${name(i)}: the current file is not the first edition`)
  }
  t.equal(current(setup).length, FILES, 'no new version left')
  t.equal(setup.sandbox.records('cg__AccountFile__c').filter((r) => r.cg__WIP__c === true).length, 0)
  t.same(await readdir(join(setup.remoteRoot, 'catalogue', 'spring')), [], 'nothing left in the source')
  const errors = await readdir(join(setup.remoteRoot, 'catalogue-errors', 'spring'))
  t.equal(
    errors.filter((n) => n.endsWith('.pdf')).length,
    FILES,
    'the whole folder is in the error directory',
  )
  t.equal(errors.filter((n) => n.endsWith('.pdf.error.json')).length, FILES, 'each file with its reason')
  t.ok(errors.includes(`_batch-${runId}.error.json`), 'and the batch report')
}

t.test('SIGKILL after the uploads, while S-Drive refuses the rollback; restart: undone', async (t) => {
  const setup = await setUp(t)
  const first = await setup.start()
  // softDelete is a PATCH of the file records (nothing else of this run patches): refused until the restart.
  const { runId } = await secondEditionRun(setup, first, () =>
    setup.sandbox.failEvery('composite', 1, {
      status: 503,
      errorCode: 'SERVER_UNAVAILABLE',
      method: 'PATCH',
    }),
  )
  await until(() => (setup.sandbox.injectedFaults().composite ?? 0) >= 1)
  first.proc.kill('SIGKILL')
  await exitCodeOf(first.proc)
  t.equal(current(setup).length, FILES + FILES - 1, 'killed with the new versions still in S-Drive')
  setup.sandbox.clearFaults()
  setup.sandbox.corruptUploads([name(CORRUPT)])

  const second = await setup.start()
  t.teardown(() => {
    second.proc.kill('SIGTERM')
  })
  await assertUndone(t, setup, second, runId)
  second.proc.kill('SIGTERM')
  t.equal(await exitCodeOf(second.proc), 0)
})

t.test('SIGKILL in the middle of the uploads; restart: undone', async (t) => {
  const setup = await setUp(t)
  const first = await setup.start()
  const { runId, s3AtStart } = await secondEditionRun(setup, first)
  await until(() => (setup.sandbox.calls.s3 ?? 0) >= s3AtStart + 4)
  first.proc.kill('SIGKILL')
  await exitCodeOf(first.proc)
  t.ok((setup.sandbox.calls.s3 ?? 0) - s3AtStart < FILES, 'killed mid-upload')

  const second = await setup.start()
  t.teardown(() => {
    second.proc.kill('SIGTERM')
  })
  await assertUndone(t, setup, second, runId)
  second.proc.kill('SIGTERM')
  t.equal(await exitCodeOf(second.proc), 0)
})
