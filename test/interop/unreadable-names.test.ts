/**
 * Names that real servers hand out raw: a line break, bytes that are not
 * UTF-8, a backslash. Against OpenSSH sshd (SFTP), vsftpd and pure-ftpd
 * (FTP): every entry the listing returns is either processed or reported as
 * UNREADABLE_FILE_NAME in the run and the dry run; none is lost, deleted or
 * sent to the error folder; a backslash name is processed.
 *
 * The daemons run as root on loopback (support/real-server-configs.ts);
 * outside CI a missing one is skipped with the reason.
 */
import { chmod, mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { pureFtpdPath, skipUnlessDaemon, sshdPath, vsftpdPath } from '../support/daemons.js'
import {
  type ExternalRemoteServer,
  type Protocol,
  sdriveFiles,
  seedRecords,
  standardFlow,
  startHarness,
} from '../support/harness.js'
import {
  ensureTestUser,
  localAccount,
  startPureFtpd,
  startSshd,
  startVsftpd,
} from '../support/real-server-configs.js'

process.umask(0)

/** Its own account, so this file and real-servers.test.ts can run side by side. */
const account = localAccount('sdrivebridgenames')
let owner = { uid: -1, gid: -1 }

const baseEndpoint = {
  host: '127.0.0.1',
  maxConnections: 2,
  connectTimeoutMs: 10_000,
  operationTimeoutMs: 60_000,
}

interface Server {
  name: string
  daemon: string
  protocol: Protocol
  external: ExternalRemoteServer
  /**
   * pure-ftpd leaves names with control characters out of its listings and answers
   * `553 Prohibited file name` for a backslash: the bridge cannot see the first and
   * reports the second as a failed item with the server's answer.
   */
  strict?: boolean
}

const servers: Server[] = [
  {
    name: 'OpenSSH sshd (SFTP)',
    daemon: sshdPath,
    protocol: 'sftp',
    external: {
      rootParent: homedir(),
      async start(root) {
        for (const dir of ['inbox', 'processed', 'errors']) {
          await mkdir(join(root, dir), { recursive: true })
          await chmod(join(root, dir), 0o777)
        }
        await chmod(root, 0o755)
        const daemon = await startSshd({
          root,
          user: account.name,
          authorizedKey: '',
          passwordAuthentication: true,
        })
        return {
          remote: daemon,
          endpoint: {
            ...baseEndpoint,
            protocol: 'sftp',
            port: daemon.port,
            username: account.name,
            hostKeySha256: daemon.hostKeySha256,
            password: '${REMOTE_LOGIN}',
          },
          env: { REMOTE_LOGIN: account.password },
        }
      },
    },
  },
  {
    name: 'vsftpd (FTP)',
    daemon: vsftpdPath,
    protocol: 'ftp',
    external: {
      async start(root) {
        await chmod(dirname(root), 0o711)
        const daemon = await startVsftpd({ root, tls: false })
        return {
          remote: daemon,
          endpoint: {
            ...baseEndpoint,
            protocol: 'ftp',
            port: daemon.port,
            username: account.name,
            password: '${REMOTE_LOGIN}',
          },
          env: { REMOTE_LOGIN: account.password },
        }
      },
    },
  },
  {
    name: 'pure-ftpd (FTP)',
    daemon: pureFtpdPath,
    protocol: 'ftp',
    strict: true,
    external: {
      async start(root) {
        const daemon = await startPureFtpd({ root, tls: false, user: account, owner })
        return {
          remote: daemon,
          endpoint: {
            ...baseEndpoint,
            protocol: 'ftp',
            port: daemon.port,
            username: account.name,
            password: '${REMOTE_LOGIN}',
          },
          env: { REMOTE_LOGIN: account.password },
        }
      },
    },
  },
]

const NEWLINE = Buffer.from('ACME-001_line\nbreak.pdf')
const BACKSLASH = Buffer.from('ACME-001_a\\b.pdf')
const LATIN1 = Buffer.concat([Buffer.from('ACME-001_caf'), Buffer.from([0xe9]), Buffer.from('.pdf')])
const PLAIN = Buffer.from('ACME-001_plain.pdf')

async function putRaw(dir: string, name: Buffer): Promise<void> {
  const path = Buffer.concat([Buffer.from(`${dir}/`), name])
  await writeFile(path, name)
  const old = (Date.now() - 3_600_000) / 1000
  await utimes(path, old, old)
}

const hexNames = async (dir: string) =>
  (await readdir(Buffer.from(dir), { encoding: 'buffer' }).catch(() => [] as Buffer[]))
    .map((b) => b.toString('hex'))
    .sort()

t.before(() => {
  if (process.getuid?.() === 0) owner = ensureTestUser(account)
})

for (const server of servers) {
  t.test(server.name, { skip: skipUnlessDaemon(server.daemon) }, async (t) => {
    const h = await startHarness({
      protocol: server.protocol,
      remoteServer: server.external,
      flows: (e) => [standardFlow(e)],
    })
    t.teardown(() => h.close())
    const ids = seedRecords(h.sandbox)
    const inbox = join(h.remoteRoot, 'inbox')
    await mkdir(inbox, { recursive: true })
    for (const name of [PLAIN, NEWLINE, BACKSLASH, LATIN1]) await putRaw(inbox, name)
    const before = await hexNames(inbox)

    const listed = server.strict ? 3 : 4
    const plan = await h.api('POST', '/v1/flows/partner-docs/runs?dryRun=true')
    t.equal(plan.status, 200)
    const planned = plan.json.files as { path: string; action: string; code: string | null }[]
    t.comment(JSON.stringify(planned.map((f) => [f.path, f.action, f.code])))
    t.equal(planned.length, listed, 'the dry run lists every entry the server lists')

    const run = await h.runAndWait('partner-docs')
    const reported = run.notes.filter((n) => n.reason === 'UNREADABLE_FILE_NAME')
    t.comment(JSON.stringify({ items: run.items.map((i) => [i.name, i.state, i.errorCode]), reported }))
    t.equal(run.items.length + reported.length, listed, 'every listed entry is processed or reported')
    t.ok(
      reported.some((n) => n.path.includes('\uFFFD')),
      'the non-UTF-8 name is reported, not processed by a wrong name',
    )
    if (!server.strict) {
      t.ok(
        reported.some((n) => n.path === '/inbox/ACME-001_line\nbreak.pdf'),
        'the line-break name is reported whole',
      )
    }
    const failed = run.items.filter((i) => i.state === 'failed')
    t.same(
      failed.map((i) => [i.name, i.errorCode]),
      server.strict ? [['ACME-001_a\\b.pdf', 'REMOTE_PERMISSION_DENIED']] : [],
      'an item fails only where the server refuses the name',
    )

    const names = sdriveFiles(h.sandbox)
      .filter((f) => String(f.cg__Account__c).slice(0, 15) === ids.acme.slice(0, 15))
      .map((f) => f.cg__File_Name__c)
      .sort()
    t.same(
      names,
      server.strict ? ['ACME-001_plain.pdf'] : ['ACME-001_a_b.pdf', 'ACME-001_plain.pdf'],
      'the plain file and (where the server serves it) the backslash file are uploaded',
    )
    t.same(await hexNames(join(h.remoteRoot, 'errors')), [], 'nothing in the error folder')
    const left = await hexNames(inbox)
    const moved = await hexNames(join(h.remoteRoot, 'processed'))
    t.same([...left, ...moved].sort(), before, 'no file lost or deleted: each is in the inbox or processed')
    t.equal(left.length, 4 - names.length, 'what was not uploaded is still in the inbox')
  })
}
