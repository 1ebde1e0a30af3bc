/**
 * Flow options end to end (SFTP): readiness by done-marker and by a second
 * look, after-success delete / keep, existing-file skip / replace /
 * duplicate, S-Drive folders, retry of failed items, permanent faults that
 * fail fast, and the built-in schedule.
 */
import { appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { Clock } from '../../src/ports/clock.js'
import { type Harness, sdriveFiles, seedRecords, standardFlow, startHarness } from '../support/harness.js'

const flow = (endpoint: string, name: string, directory: string, extra: Record<string, unknown> = {}) =>
  standardFlow(endpoint, {
    name,
    source: { endpoint, directory, include: ['**/*.pdf'], recursive: false },
    readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 60 },
    after: {
      success: 'move',
      processedDirectory: `${directory}-done`,
      errorDirectory: `${directory}-errors`,
    },
    ...extra,
  })

/** A clock whose waits run a hook instead of passing time, so "meanwhile" is deterministic. */
function hookedClock(): Clock & { during: (() => Promise<void>) | null } {
  const clock = {
    during: null as (() => Promise<void>) | null,
    now: () => Date.now(),
    async sleep(_ms: number, signal?: AbortSignal) {
      signal?.throwIfAborted()
      const hook = clock.during
      clock.during = null
      if (hook) await hook()
      else await new Promise((resolve) => setImmediate(resolve))
    },
  }
  return clock
}

t.test('flow policies', async (t) => {
  const clock = hookedClock()
  const h: Harness = await startHarness({
    protocol: 'sftp',
    bridge: { clock },
    flows: (e) => [
      flow(e, 'marker', '/marker', { readiness: { mode: 'doneMarker', suffix: '.done' } }),
      flow(e, 'stable', '/stable', { readiness: { mode: 'stable', stableSeconds: 2, minAgeSeconds: 0 } }),
      flow(e, 'delete', '/delete', { after: { success: 'delete', errorDirectory: '/delete-errors' } }),
      flow(e, 'keep', '/keep', { after: { success: 'keep', errorDirectory: '/keep-errors' } }),
      flow(e, 'skip', '/skip', { existing: 'skip' }),
      flow(e, 'replace', '/replace', { existing: 'replace' }),
      flow(e, 'duplicate', '/duplicate', { existing: 'duplicate' }),
      flow(e, 'foldered', '/foldered', {
        target: {
          fileObject: 'cg__AccountFile__c',
          parentField: 'cg__Account__c',
          folder: 'Partner drops/{flow}',
        },
      }),
      flow(e, 'retry', '/retry'),
      flow(e, 'missing-dir', '/does-not-exist'),
    ],
  })
  t.teardown(() => h.close())
  const ids = seedRecords(h.sandbox)
  const onAcme = (name: string) =>
    sdriveFiles(h.sandbox).filter(
      (f) => f.cg__File_Name__c === name && String(f.cg__Account__c).slice(0, 15) === ids.acme.slice(0, 15),
    )

  t.test('done-marker: taken only once the marker exists; the marker goes too', async (t) => {
    await h.put('marker/ACME-001_m.pdf', 'm', { ageSeconds: 0 })
    const first = await h.runAndWait('marker')
    t.equal(first.counts.total, 0)
    t.match(first.notes[0]?.message, /waiting for done-marker/)
    await h.put('marker/ACME-001_m.pdf.done', '', { ageSeconds: 0 })
    const second = await h.runAndWait('marker')
    t.equal(second.counts.done, 1)
    t.same(await h.list('marker'), [], 'file and marker gone from the drop')
    t.equal(onAcme('ACME-001_m.pdf').length, 1)
  })

  t.test('stable: a file that changes during the re-check waits for a later run', async (t) => {
    await h.put('stable/ACME-001_s.pdf', 'part one', { ageSeconds: 0 })
    clock.during = () => appendFile(join(h.remoteRoot, 'stable/ACME-001_s.pdf'), ' and part two')
    const first = await h.runAndWait('stable')
    t.equal(first.counts.total, 0)
    t.match(first.notes[0]?.message, /still changing/)
    const second = await h.runAndWait('stable')
    t.equal(second.counts.done, 1)
    const rec = onAcme('ACME-001_s.pdf')[0]
    t.equal(
      (await h.sandbox.s3Object(String(rec?.cg__Key__c)))?.toString(),
      'part one and part two',
      'the whole file',
    )
  })

  t.test('after success: delete removes the source; keep leaves it and never retakes it', async (t) => {
    await h.put('delete/ACME-001_d.pdf', 'd')
    t.equal((await h.runAndWait('delete')).counts.done, 1)
    t.same(await h.list('delete'), [])
    await h.put('keep/ACME-001_k.pdf', 'k')
    t.equal((await h.runAndWait('keep')).counts.done, 1)
    t.same(await h.list('keep'), ['ACME-001_k.pdf'])
    const again = await h.runAndWait('keep')
    t.equal(again.counts.total, 0)
    t.equal(again.notes[0]?.reason, 'ALREADY_PROCESSED')
    t.equal(onAcme('ACME-001_k.pdf').length, 1)
  })

  t.test('existing file: skip, replace, duplicate', async (t) => {
    const seedExisting = async (name: string) => {
      await h.put(`delete/${name}`, 'old version')
      await h.runAndWait('delete')
      t.equal(onAcme(name).length, 1, `${name} is in S-Drive before`)
    }
    await seedExisting('ACME-001_skip.pdf')
    await h.put('skip/ACME-001_skip.pdf', 'new version')
    const skip = await h.runAndWait('skip')
    t.equal(skip.counts.skipped, 1)
    t.equal(onAcme('ACME-001_skip.pdf').length, 1, 'skip: still one')
    t.same(await h.list('skip-done'), ['ACME-001_skip.pdf'], 'skip: the source is tidied like a success')

    await seedExisting('ACME-001_replace.pdf')
    const oldId = onAcme('ACME-001_replace.pdf')[0]?.Id
    await h.put('replace/ACME-001_replace.pdf', 'new version')
    t.equal((await h.runAndWait('replace')).counts.done, 1)
    const now = onAcme('ACME-001_replace.pdf')
    t.equal(now.length, 1, 'replace: one visible file')
    t.not(now[0]?.Id, oldId, 'replace: the new one')
    t.equal((await h.sandbox.s3Object(String(now[0]?.cg__Key__c)))?.toString(), 'new version')
    const old = h.sandbox.records('cg__AccountFile__c').find((r) => r.Id === oldId)
    t.equal(old?.cg__Is_Deleted__c, true, 'replace: the old one is in the recycle bin')

    await seedExisting('ACME-001_dup.pdf')
    await h.put('duplicate/ACME-001_dup.pdf', 'new version')
    t.equal((await h.runAndWait('duplicate')).counts.done, 1)
    t.equal(onAcme('ACME-001_dup.pdf').length, 2, 'duplicate: both')
  })

  t.test('S-Drive folder: created once, files put in it', async (t) => {
    await h.put('foldered/ACME-001_f1.pdf', 'f1')
    await h.put('foldered/ACME-001_f2.pdf', 'f2')
    t.equal((await h.runAndWait('foldered')).counts.done, 2)
    await h.put('foldered/ACME-001_f3.pdf', 'f3')
    t.equal((await h.runAndWait('foldered')).counts.done, 1)
    const rows = h.sandbox.records('cg__AccountFile__c')
    const folders = rows.filter((r) => r.cg__Content_Type__c === 'Folder')
    const outer = folders.filter((f) => f.cg__File_Name__c === 'Partner drops')
    const inner = folders.filter((f) => f.cg__File_Name__c === 'foldered')
    t.equal(outer.length, 1, 'one outer folder')
    t.equal(inner.length, 1, 'one inner folder')
    t.equal(inner[0]?.cg__Parent_Folder_Id__c, outer[0]?.Id, 'nested')
    for (const name of ['ACME-001_f1.pdf', 'ACME-001_f2.pdf', 'ACME-001_f3.pdf']) {
      t.equal(onAcme(name)[0]?.cg__Parent_Folder_Id__c, inner[0]?.Id, `${name} is in the folder`)
    }
  })

  t.test('retry: a file that failed matching is placed once its record exists', async (t) => {
    await h.put('retry/LATER-5_r.pdf', 'r')
    const run = await h.runAndWait('retry')
    t.equal(run.counts.failed, 1)
    t.same(await h.list('retry-errors'), ['LATER-5_r.pdf', 'LATER-5_r.pdf.error.json'])
    const later = h.sandbox.insert('Account', { Name: 'Later', AccountNumber: 'LATER-5' })
    const res = await h.api('POST', `/v1/runs/${run.id}/retry`)
    t.equal(res.status, 202)
    t.equal(res.json.retried, 1)
    const after = await h.waitForRun(run.id)
    t.equal(after.state, 'succeeded')
    t.equal(after.items[0]?.targetRecordId?.slice(0, 15), later.slice(0, 15))
    t.same(await h.list('retry-errors'), [], 'error folder cleaned up')
    t.same(await h.list('retry-done'), ['LATER-5_r.pdf'])
  })

  t.test('a missing source directory fails the run fast with its code', async (t) => {
    const run = await h.runAndWait('missing-dir')
    t.equal(run.state, 'failed')
    t.equal(run.errorCode, 'REMOTE_NOT_FOUND')
  })
})

t.test('a wrong password fails the run fast with its code', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    endpoint: { password: 'not-the-password' },
    flows: (e) => [standardFlow(e)],
  })
  t.teardown(() => h.close())
  const started = Date.now()
  const run = await h.runAndWait('partner-docs')
  t.equal(run.state, 'failed')
  t.equal(run.errorCode, 'REMOTE_AUTH_FAILED')
  t.ok(Date.now() - started < 5000, 'without burning retries')
})

t.test('the built-in schedule starts runs', async (t) => {
  const h = await startHarness({
    protocol: 'sftp',
    bridge: { schedules: true },
    flows: (e) => [standardFlow(e, { schedule: { cron: '* * * * * *', timezone: 'UTC' } })],
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  await h.put('inbox/ACME-001_cron.pdf', 'c')
  const [runId] = (await new Promise((resolve) => {
    const stop = h.server.bridge.events.on('run-settled', (event) => {
      stop()
      resolve([event.runId])
    })
  })) as [string]
  const run = await h.waitForRun(runId)
  t.equal(run.trigger, 'schedule')
  t.equal(run.counts.done, 1)
})
