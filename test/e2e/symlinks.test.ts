/**
 * Symlinks in a partner's inbox, end to end over the sandbox SFTP and FTP
 * servers (issue 18, defect 11: a link to /etc/passwd in an FTP inbox was
 * uploaded to S-Drive). The bridge takes regular files only: a link is
 * never followed, never moved or deleted, and reported in the run and the
 * dry run as NOT_A_REGULAR_FILE, whether it leads out of the server's root
 * or stays inside it. The real servers of the interop suite are tested the
 * same way in test/interop/real-servers.test.ts.
 */
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { type Protocol, sdriveFiles, seedRecords, standardFlow, startHarness } from '../support/harness.js'

for (const protocol of ['sftp', 'ftp'] as Protocol[]) {
  t.test(`symlinks in the inbox over ${protocol}`, async (t) => {
    const h = await startHarness({ protocol, flows: (endpoint) => [standardFlow(endpoint)] })
    t.teardown(() => h.close())
    seedRecords(h.sandbox)
    const outside = await mkdtemp(join(tmpdir(), 'bridge-outside-'))
    t.teardown(() => rm(outside, { recursive: true, force: true }))
    const secret = join(outside, 'ACME-001_secret.txt')
    await writeFile(secret, 'not for partners')
    // Old enough for the flow's readiness rule (60 s), so a server that follows the link offers a ready file.
    const anHourAgo = (Date.now() - 3_600_000) / 1000
    await utimes(secret, anHourAgo, anHourAgo)
    await mkdir(join(h.remoteRoot, 'data'), { recursive: true })
    await writeFile(join(h.remoteRoot, 'data', 'ACME-001_real.txt'), 'inside the root')
    await utimes(join(h.remoteRoot, 'data', 'ACME-001_real.txt'), anHourAgo, anHourAgo)
    await h.put('inbox/ACME-001_contract.pdf', 'acme contract')
    // Both names match the flow's filename rule: only the link stops them.
    await symlink(secret, join(h.remoteRoot, 'inbox', 'ACME-001_leak.txt'))
    await symlink(
      join(h.remoteRoot, 'data', 'ACME-001_real.txt'),
      join(h.remoteRoot, 'inbox', 'ACME-001_alias.txt'),
    )

    const plan = await h.api('POST', '/v1/flows/partner-docs/runs?dryRun=true')
    t.equal(plan.status, 200)
    const planned = (plan.json.files as { path: string; code: string | null }[])
      .map((f) => [f.path, f.code])
      .sort()
    t.match(planned, [
      ['/inbox/ACME-001_alias.txt', 'NOT_A_REGULAR_FILE'],
      ['/inbox/ACME-001_contract.pdf', null],
      ['/inbox/ACME-001_leak.txt', 'NOT_A_REGULAR_FILE'],
    ])

    const run = await h.runAndWait('partner-docs')
    t.equal(run.state, 'succeeded', 'the run ends normally')
    t.same(
      run.items.map((i) => [i.name, i.state]),
      [['ACME-001_contract.pdf', 'done']],
      'only the regular file is an item',
    )
    t.same(
      run.notes.map((n) => [n.path, n.reason]).sort(),
      [
        ['/inbox/ACME-001_alias.txt', 'NOT_A_REGULAR_FILE'],
        ['/inbox/ACME-001_leak.txt', 'NOT_A_REGULAR_FILE'],
      ],
      'each link is reported',
    )
    t.match(run.notes[0]?.message, /not a regular file .*not followed/)

    const uploaded = sdriveFiles(h.sandbox)
    t.same(
      uploaded.map((f) => f.cg__File_Name__c),
      ['ACME-001_contract.pdf'],
      'nothing a link points at reached S-Drive',
    )
    t.equal(await readFile(secret, 'utf8'), 'not for partners', 'the file outside is untouched')
    t.ok((await lstat(join(h.remoteRoot, 'inbox', 'ACME-001_leak.txt'))).isSymbolicLink(), 'the link stays')
    t.ok((await lstat(join(h.remoteRoot, 'inbox', 'ACME-001_alias.txt'))).isSymbolicLink())
    t.same(await h.list('errors'), [], 'no error-folder move for a link')

    const again = await h.runAndWait('partner-docs')
    t.equal(again.notes.filter((n) => n.reason === 'NOT_A_REGULAR_FILE').length, 2, 'reported in every run')
  })
}
