/**
 * `existing: version` across a crash: a catalogue dropped again (some files
 * with new bytes, some unchanged) while the service is killed with SIGKILL
 * mid-run ends, after a restart, with exactly one new version per changed
 * file, none for an unchanged one, one latest version per name and no WIP
 * record left.
 */
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { childApi, childSetup, exitCodeOf, waitForRunOver } from '../support/child-service.js'

const FILES = 30
const CHANGED = 20
const name = (i: number) => `ACME-001_sheet-${String(i).padStart(3, '0')}.pdf`
const edition = (i: number, n: number) => Buffer.alloc(32 * 1024 + n, (i * 7 + n) % 251)

t.test('SIGKILL mid versioned batch, restart: one new version per changed file', async (t) => {
  const setup = await childSetup(t, {
    queue: { maxConcurrentTransfers: 2 },
    leaseMs: 3000,
    flows: (endpoint) => [
      {
        name: 'catalogue',
        kind: 'inbound',
        source: { endpoint, directory: '/catalogue' },
        readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
        match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
        target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
        existing: 'version',
        after: { success: 'delete', errorDirectory: '/catalogue-errors' },
        retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 200 },
      },
    ],
  })
  const { sandbox, remoteRoot } = setup
  const drop = async (edition: (i: number) => Buffer, ageSeconds: number) => {
    await mkdir(join(remoteRoot, 'catalogue'), { recursive: true })
    const when = (Date.now() - ageSeconds * 1000) / 1000
    for (let i = 0; i < FILES; i++) {
      const path = join(remoteRoot, 'catalogue', name(i))
      await writeFile(path, edition(i))
      await utimes(path, when, when)
    }
  }
  const files = () =>
    sandbox
      .records('cg__AccountFile__c')
      .filter((r) => r.cg__WIP__c === false && r.cg__Is_Deleted__c !== true)

  const first = await setup.start()
  await drop((i) => edition(i, 1), 3600)
  const initial = await childApi(first, 'POST', '/v1/flows/catalogue/runs')
  t.equal((await waitForRunOver(first, initial.json.runId)).counts.done, FILES, 'the first edition is in')

  // Again: the first CHANGED files with new bytes, the rest byte for byte the same.
  await drop((i) => edition(i, i < CHANGED ? 2 : 1), 1800)
  const s3Before = sandbox.calls.s3 ?? 0
  const started = await childApi(first, 'POST', '/v1/flows/catalogue/runs')
  const runId = started.json.runId as string
  while ((sandbox.calls.s3 ?? 0) < s3Before + 6) await new Promise((resolve) => setImmediate(resolve))
  first.proc.kill('SIGKILL')
  await exitCodeOf(first.proc)
  t.ok((sandbox.calls.s3 ?? 0) - s3Before < FILES, 'killed mid-run')

  const second = await setup.start()
  t.teardown(() => {
    second.proc.kill('SIGTERM')
  })
  const run = await waitForRunOver(second, runId)
  t.equal(run.state, 'succeeded')
  t.same(
    [run.counts.done, run.counts.skipped],
    [CHANGED, FILES - CHANGED],
    'changed: versions; the rest: skipped',
  )
  t.ok(
    run.items
      .filter((i: { state: string }) => i.state === 'skipped')
      .every((i: { errorCode: string }) => i.errorCode === 'UNCHANGED'),
    'every skipped file is UNCHANGED',
  )

  for (let i = 0; i < FILES; i++) {
    const mine = files().filter((f) => f.cg__File_Name__c === name(i))
    const latest = mine.filter((f) => f.cg__Is_Latest_Version__c === true)
    const expected = i < CHANGED ? 2 : 1
    if (mine.length !== expected || latest.length !== 1) {
      t.fail(`${name(i)}: ${mine.length} file(s), ${latest.length} latest; expected ${expected} and 1`)
      continue
    }
    const bytes = await sandbox.s3Object(String(latest[0]?.cg__Key__c))
    if (!bytes?.equals(edition(i, i < CHANGED ? 2 : 1)))
      t.fail(`${name(i)}: the latest holds the wrong bytes`)
  }
  t.equal(files().length, FILES + CHANGED, 'exactly one new version per changed file, none for the unchanged')
  t.equal(
    sandbox.records('cg__AccountFile__c').filter((r) => r.cg__WIP__c === true).length,
    0,
    'no WIP record left',
  )
  t.same(await readdir(join(remoteRoot, 'catalogue')), [], 'every source file disposed of')
  second.proc.kill('SIGTERM')
  t.equal(await exitCodeOf(second.proc), 0)
})
