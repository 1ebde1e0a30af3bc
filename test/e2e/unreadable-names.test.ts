/**
 * Partner files whose names cannot be read back (a line break, bytes that are
 * not UTF-8) are reported in the run and in the dry run as
 * UNREADABLE_FILE_NAME and left where they are; a backslash is a plain
 * character and such a file is processed. Over real sockets, against the
 * sandbox SFTP and FTP servers, with the names created on disk as bytes.
 */
import { readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { type Protocol, sdriveFiles, seedRecords, standardFlow, startHarness } from '../support/harness.js'

const NEWLINE_NAME = 'ACME-001_line\nbreak.pdf'
const BACKSLASH_NAME = 'ACME-001_a\\b.pdf'
/** Valid UTF-8 that really contains U+FFFD: readable by its name, so processed. */
const REAL_FFFD_NAME = 'ACME-001_real\uFFFD.pdf'
/** `ACME-001_café.pdf` in Latin-1: 0xE9 alone is not UTF-8. */
const LATIN1_NAME = Buffer.concat([Buffer.from('ACME-001_caf'), Buffer.from([0xe9]), Buffer.from('.pdf')])

async function putBytesName(dir: string, name: Buffer, content: string): Promise<void> {
  const path = Buffer.concat([Buffer.from(`${dir}/`), name])
  await writeFile(path, content)
  const old = (Date.now() - 3_600_000) / 1000
  await utimes(path, old, old)
}

const inboxBytes = async (root: string) =>
  (await readdir(Buffer.from(join(root, 'inbox')), { encoding: 'buffer' })).map((b) => b.toString('hex'))

for (const protocol of ['sftp', 'ftp'] as Protocol[]) {
  t.test(`names that cannot be read back, over ${protocol}`, async (t) => {
    const h = await startHarness({ protocol, flows: (endpoint) => [standardFlow(endpoint)] })
    t.teardown(() => h.close())
    const ids = seedRecords(h.sandbox)
    await h.put('inbox/ACME-001_plain.pdf', 'plain')
    await h.put(`inbox/${NEWLINE_NAME}`, 'newline')
    await h.put(`inbox/${BACKSLASH_NAME}`, 'backslash')
    await h.put(`inbox/${REAL_FFFD_NAME}`, 'real replacement character')
    await putBytesName(join(h.remoteRoot, 'inbox'), LATIN1_NAME, 'latin-1')
    const before = await inboxBytes(h.remoteRoot)
    t.equal(before.length, 5, 'five files in the inbox')

    const plan = await h.api('POST', '/v1/flows/partner-docs/runs?dryRun=true')
    t.equal(plan.status, 200)
    const planned = plan.json.files as { path: string; action: string; code: string | null }[]
    t.equal(planned.length, 5, 'the dry run lists every file the listing returned')
    const byPath = new Map(planned.map((f) => [f.path, f]))
    t.match(byPath.get(`/inbox/${NEWLINE_NAME}`), { action: 'fail', code: 'UNREADABLE_FILE_NAME' })
    t.match(byPath.get(`/inbox/${BACKSLASH_NAME}`), { action: 'upload' })
    t.match(
      byPath.get(`/inbox/${REAL_FFFD_NAME}`),
      { action: 'upload' },
      'a name that has U+FFFD is readable',
    )
    const latin1 = planned.find((f) => f.path.includes('\uFFFD') && f.path !== `/inbox/${REAL_FFFD_NAME}`)
    t.match(latin1, { action: 'fail', code: 'UNREADABLE_FILE_NAME' }, 'the non-UTF-8 name is listed')

    for (const round of [1, 2]) {
      const run = await h.runAndWait('partner-docs')
      const unreadable = run.notes.filter((n) => n.reason === 'UNREADABLE_FILE_NAME').map((n) => n.path)
      t.equal(unreadable.length, 2, `run ${round}: both unreadable names are reported in the run`)
      t.ok(unreadable.includes(`/inbox/${NEWLINE_NAME}`), `run ${round}: the newline name, whole`)
      t.ok(
        unreadable.some((p) => p.includes('caf\uFFFD')),
        `run ${round}: the non-UTF-8 name`,
      )
      const detail = await h.api('GET', `/v1/runs/${run.id}`)
      t.equal(
        detail.json.notes.filter((n: { reason: string }) => n.reason === 'UNREADABLE_FILE_NAME').length,
        2,
        `run ${round}: GET /v1/runs/{id} shows them`,
      )
      if (round === 1) {
        t.equal(run.counts.done, 3, 'the plain, the backslash and the real U+FFFD file are processed')
        t.equal(run.counts.failed, 0, 'nothing failed as an item')
      }
    }

    const names = sdriveFiles(h.sandbox)
      .filter((f) => String(f.cg__Account__c).slice(0, 15) === ids.acme.slice(0, 15))
      .map((f) => f.cg__File_Name__c)
      .sort()
    t.same(
      names,
      ['ACME-001_a_b.pdf', 'ACME-001_plain.pdf', REAL_FFFD_NAME].sort(),
      'the backslash and the U+FFFD file reached S-Drive',
    )
    t.same(
      (await h.list('processed')).sort(),
      ['ACME-001_a\\b.pdf', 'ACME-001_plain.pdf', REAL_FFFD_NAME].sort(),
      'processed files were moved',
    )
    t.same(await h.list('errors'), [], 'nothing went to the error folder')
    const after = await inboxBytes(h.remoteRoot)
    t.same(
      after.sort(),
      [Buffer.from(NEWLINE_NAME).toString('hex'), LATIN1_NAME.toString('hex')].sort(),
      'the unreadable files stay in the inbox, byte for byte',
    )
  })
}
