/**
 * The interop suite with real servers, run by one file per daemon
 * (test/interop/real-servers-*.test.ts) so that tap runs them side by side: the inbound flow and the outbound export end to
 * end (Salesforce/S-Drive sandbox ↔ bridge ↔ daemon) against OpenSSH sshd
 * (SFTP, key and password login), vsftpd (FTP, explicit FTPS) and pure-ftpd
 * (FTP, explicit FTPS), with odd names and a 200 MiB file; then a server
 * that refuses rename and one that allows 2 connections per client.
 *
 * The daemons run as root on loopback with their own config (see
 * support/real-server-configs.ts); outside CI a missing one is skipped with
 * the reason, in CI it fails the run.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises'
import { connect } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import { sdriveFileName } from '../../src/domain/file-names.js'
import { generateSshKeyPair } from '../../src/sandbox/sftp-server.js'
import { caPem } from '../../src/sandbox/tls/index.js'
import type { RunDetailView as RunDetail } from '../../src/services/run-views.js'
import { pureFtpdPath, skipUnlessDaemon, sshdPath, vsftpdPath } from './daemons.js'
import {
  API_KEY,
  type ExternalRemoteServer,
  type Harness,
  type Protocol,
  sdriveFiles,
  seedRecords,
  standardFlow,
  startHarness,
} from './harness.js'
import {
  ensureTestUser,
  localAccount,
  type RunningDaemon,
  startPureFtpd,
  startSshd,
  startVsftpd,
} from './real-server-configs.js'
import { endpointConfig as adapterEndpoint, failureCode } from './remote-files-contract.js'
import { seedSDriveFiles } from './sdrive-seed.js'

// Two 200 MiB legs per server, two servers per daemon: past the default per-file timeout.
t.setTimeout(30 * 60_000)

// The FTP daemons act as the test account; what the test makes as root must stay writable for it.
process.umask(0)

const BIG_BYTES = 200 * 1024 * 1024
const KEY_PASSPHRASE = 'interop key passphrase'
const clientKey = generateSshKeyPair({ passphrase: KEY_PASSPHRASE, cipher: 'aes256-ctr', rounds: 4 })
const silent = pino({ level: 'silent' })
const versions = new Map<string, string>()
/**
 * The system account sshd and vsftpd log in, and that owns what pure-ftpd's virtual user writes.
 * One per daemon kind: the files run in parallel and each sets a fresh password.
 */
let testUser = localAccount('sdrivebridgeinterop')
let owner = { uid: -1, gid: -1 }

type Variant = 'plain' | 'no-rename' | 'two-connections'

export type DaemonKind = 'sshd' | 'vsftpd' | 'pure-ftpd'

interface RealServer {
  kind: DaemonKind
  name: string
  daemon: string
  protocol: Protocol
  /** Starts the daemon over the harness root with the variant's restriction. */
  external(variant: Variant): ExternalRemoteServer
}

const baseEndpoint = {
  host: '127.0.0.1',
  maxConnections: 2,
  connectTimeoutMs: 10_000,
  operationTimeoutMs: 60_000,
}

function sshd(login: 'key' | 'password'): RealServer {
  return {
    kind: 'sshd',
    name: `OpenSSH sshd, SFTP, ${login} login`,
    daemon: sshdPath,
    protocol: 'sftp',
    external: () => ({
      // ChrootDirectory wants every component root-owned and not group/world-writable; /tmp is not.
      rootParent: homedir(),
      async start(root) {
        // The chroot itself stays root's; the flows' top-level folders belong to everyone.
        for (const dir of ['inbox', 'processed', 'errors', 'outbox']) {
          await mkdir(join(root, dir), { recursive: true })
          await chmod(join(root, dir), 0o777)
        }
        await chmod(root, 0o755)
        const daemon = await startSshd({
          root,
          user: testUser.name,
          authorizedKey: clientKey.public,
          passwordAuthentication: login === 'password',
        })
        versions.set('OpenSSH sshd', daemon.version)
        const credentials =
          login === 'key'
            ? { privateKey: '${SFTP_PRIVATE_KEY}', passphrase: '${SFTP_KEY_PASSPHRASE}' }
            : { password: '${SFTP_PASSWORD}' }
        return {
          remote: daemon,
          endpoint: {
            ...baseEndpoint,
            protocol: 'sftp',
            port: daemon.port,
            username: testUser.name,
            hostKeySha256: daemon.hostKeySha256,
            ...credentials,
          },
          env: {
            SFTP_PRIVATE_KEY: clientKey.private,
            SFTP_KEY_PASSPHRASE: KEY_PASSPHRASE,
            SFTP_PASSWORD: testUser.password,
          },
        }
      },
    }),
  }
}

function ftpEndpoint(tls: boolean, daemon: RunningDaemon) {
  return {
    ...baseEndpoint,
    protocol: tls ? 'ftps' : 'ftp',
    port: daemon.port,
    username: testUser.name,
    password: '${FTP_PASSWORD}',
    // vsftpd truncates FTPS uploads over TLS 1.3 now and then (426); TLS 1.2 is reliable.
    ...(tls ? { tls: { rejectUnauthorized: true, ca: caPem, maxVersion: 'TLSv1.2' } } : {}),
  }
}

function vsftpd(tls: boolean): RealServer {
  return {
    kind: 'vsftpd',
    name: `vsftpd, ${tls ? 'explicit FTPS' : 'FTP'}`,
    daemon: vsftpdPath,
    protocol: tls ? 'ftps' : 'ftp',
    external: (variant) => ({
      async start(root) {
        const extra = {
          plain: [],
          'no-rename': ['cmds_denied=RNFR,RNTO'],
          'two-connections': ['max_per_ip=2'],
        }[variant]
        // vsftpd chroots as the logged-in user, who must reach the root through the harness's dir.
        await chmod(dirname(root), 0o711)
        const daemon = await startVsftpd({ root, tls: tls ? 'explicit' : false, extra })
        versions.set('vsftpd', daemon.version)
        return {
          remote: daemon,
          endpoint: ftpEndpoint(tls, daemon),
          env: { FTP_PASSWORD: testUser.password },
        }
      },
    }),
  }
}

function pureFtpd(tls: boolean): RealServer {
  return {
    kind: 'pure-ftpd',
    name: `pure-ftpd, ${tls ? 'explicit FTPS' : 'FTP'}`,
    daemon: pureFtpdPath,
    protocol: tls ? 'ftps' : 'ftp',
    external: (variant) => ({
      async start(root) {
        const args = { plain: [], 'no-rename': ['--norename'], 'two-connections': ['--maxclientsperip=2'] }[
          variant
        ]
        const daemon = await startPureFtpd({ root, tls, user: testUser, owner, args })
        versions.set('pure-ftpd', daemon.version)
        return {
          remote: daemon,
          endpoint: ftpEndpoint(tls, daemon),
          env: { FTP_PASSWORD: testUser.password },
        }
      },
    }),
  }
}

const allServers = [
  sshd('key'),
  sshd('password'),
  vsftpd(false),
  vsftpd(true),
  pureFtpd(false),
  pureFtpd(true),
]
const allFtpDaemons = [vsftpd(false), pureFtpd(false)]
const symlinkServers = [sshd('password'), vsftpd(false), pureFtpd(false)]

/** A 200 MiB file of random bytes, written in 1 MiB chunks (never whole in memory), with its SHA-256. */
async function bigFile(t: Test): Promise<{ path: string; sha256: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'interop-big-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'big.bin')
  const hash = createHash('sha256')
  const chunk = 1024 * 1024
  async function* chunks() {
    for (let written = 0; written < BIG_BYTES; written += chunk) {
      const bytes = randomBytes(chunk)
      hash.update(bytes)
      yield bytes
    }
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path))
  return { path, sha256: hash.digest('hex') }
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Streams a file from disk into the sandbox's S-Drive through the bridge's own client. */
async function seedBigSDriveFile(h: Harness, parentId: string, name: string, path: string): Promise<string> {
  const sdrive = h.server.bridge.sdrive
  const target = { parentId, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' }
  const [ticket] = await sdrive.startUpload(target, [
    { fileName: name, sizeBytes: BIG_BYTES, contentType: 'application/pdf' },
  ])
  if (!ticket) throw new Error('no upload ticket')
  const { versionId } = await sdrive.uploadToS3(ticket, createReadStream(path), BIG_BYTES, 'application/pdf')
  await sdrive.completeUpload([ticket.wipFileId], [versionId])
  return ticket.wipFileId
}

function outboundFlow(endpoint: string) {
  return {
    name: 'deliveries',
    kind: 'outbound',
    source: {
      object: 'Opportunity',
      fileObject: 'cg__OpportunityFile__c',
      parentField: 'cg__Opportunity__c',
    },
    destination: { endpoint, directory: '/outbox/{Account.AccountNumber}', fileName: '{Name}_{file.name}' },
    manifest: { format: 'csv', recordFields: ['Name'] },
    doneMarker: { fileName: '_DONE' },
    retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
  }
}

const inboundFiles: Record<string, string> = {
  'inbox/ACME-001_contract.pdf': 'acme contract',
  "inbox/O'BRIEN-1_deal über 2024.pdf": 'obrien deal',
  'inbox/ACME-001_Ångström "final" 契約書 ✓.pdf': 'unicode and double quotes',
  'inbox/accounts/GLOBEX-7/invoice  2024 (copy #2).txt': 'globex invoice',
}
// S-Drive refuses \\ / : * ? " < > | ~ in a file name; the inbound side shows those are replaced.
const outboundNames = ['annex A.pdf', "O'Brien note ✓.pdf", '報告書 (2026) #1.pdf']
const ACCOUNT_NUMBER = "O'DELL-9"
const OPPORTUNITY = "Deal 'Ü' 2026"

async function startFor(
  server: RealServer,
  variant: Variant,
  flows: (endpoint: string) => Record<string, unknown>[],
  t: Test,
  endpoint: Record<string, unknown> = {},
): Promise<Harness> {
  const h = await startHarness({
    protocol: server.protocol,
    remoteServer: server.external(variant),
    flows,
    endpoint,
  })
  t.teardown(() => h.close())
  return h
}

async function runInbound(t: Test, h: Harness, big: { path: string; sha256: string }) {
  const ids = seedRecords(h.sandbox)
  for (const [path, content] of Object.entries(inboundFiles)) await h.put(path, content)
  const bigName = 'ACME-001_big scan ü.pdf'
  const bigPath = join(h.remoteRoot, 'inbox', bigName)
  await copyFile(big.path, bigPath)
  const old = (Date.now() - 3600_000) / 1000
  await utimes(bigPath, old, old)

  const run = await h.runAndWait('partner-docs')
  explain(t, h, run)
  t.equal(run.state, 'succeeded', 'inbound run succeeded')
  t.equal(run.counts.done, 5, 'every file placed')
  const names = sdriveFiles(h.sandbox)
    .map((f) => String(f.cg__File_Name__c))
    .sort()
  t.same(
    names,
    [...Object.keys(inboundFiles).map((p) => sdriveFileName(p.split('/').pop() as string)), bigName].sort(),
    'odd names arrive in S-Drive (S-Drive-forbidden characters replaced)',
  )
  const acme = sdriveFiles(h.sandbox).filter(
    (f) => String(f.cg__Account__c).slice(0, 15) === ids.acme.slice(0, 15),
  )
  t.equal(acme.length, 3, 'on the record the name names')
  t.same(
    await h.list('processed'),
    [...Object.keys(inboundFiles).filter((p) => !p.includes('accounts/')), `inbox/${bigName}`]
      .map((p) => p.replace(/^inbox\//, ''))
      .concat('accounts')
      .sort(),
    'sources moved to the processed folder under their own names',
  )
  t.same(await h.list('processed/accounts/GLOBEX-7'), ['invoice  2024 (copy #2).txt'])
  t.same(await h.list('inbox'), ['accounts'], 'nothing left in the inbox')

  const bigItem = run.items.find((i) => i.name === bigName)
  t.equal(bigItem?.sha256, big.sha256, '200 MiB: SHA-256 recorded on the item')
  const bigRecord = sdriveFiles(h.sandbox).find((f) => f.cg__File_Name__c === bigName)
  const [url] = await h.server.bridge.sdrive.downloadUrls([
    { id: String(bigRecord?.Id), parentId: String(bigRecord?.cg__Account__c) },
  ])
  const download = await h.server.bridge.sdrive.openDownload(String(url))
  t.equal(await sha256Of(download.stream), big.sha256, '200 MiB: S-Drive holds the exact bytes')
}

async function runOutbound(
  t: Test,
  h: Harness,
  big: { path: string; sha256: string } | null,
): Promise<{ dir: string; jobId: string }> {
  const accountId = h.sandbox.insert('Account', { Name: 'Ödell & Söhne', AccountNumber: ACCOUNT_NUMBER })
  const opp = h.sandbox.insert('Opportunity', {
    Name: OPPORTUNITY,
    StageName: 'Closed Won',
    AccountId: accountId,
  })
  const target = { parentId: opp, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' }
  await seedSDriveFiles(
    h.server.bridge.sdrive,
    target,
    outboundNames.map((name) => ({ name, content: `content of ${name}` })),
  )
  if (big) await seedBigSDriveFile(h, opp, 'drawing set ü.pdf', big.path)

  const res = await h.api('POST', '/v1/exports', { body: { flow: 'deliveries', recordIds: [opp] } })
  t.equal(res.status, 202, 'export accepted')
  await h.server.bridge.exports.settled(res.json.jobId)
  const job = (await h.api('GET', `/v1/jobs/${res.json.jobId}`)).json
  if (job.state !== 'succeeded') t.comment(`export ${job.state}: ${JSON.stringify([job.error, job.files])}`)
  t.equal(job.state, 'succeeded', 'export succeeded')
  const expected = [...outboundNames, ...(big ? ['drawing set ü.pdf'] : [])].map((n) => `${OPPORTUNITY}_${n}`)
  t.same(job.files.map((f: { name: string }) => f.name).sort(), [...expected].sort(), 'odd names kept')
  const dir = `outbox/${ACCOUNT_NUMBER}`
  t.same(
    await h.list(dir),
    [...expected, '_DONE', `manifest-${job.id}.csv`].sort(),
    'files, manifest and done-marker; no temporary file left',
  )
  for (const f of job.files as { name: string; sha256: string; size: number; state: string }[]) {
    const onDisk = join(h.remoteRoot, dir, f.name)
    t.equal(f.state, 'done')
    t.equal((await stat(onDisk)).size, f.size, `${f.name}: size`)
    t.equal(await sha256Of(createReadStream(onDisk)), f.sha256, `${f.name}: SHA-256 recorded and verified`)
  }
  if (big) {
    const delivered = join(h.remoteRoot, dir, `${OPPORTUNITY}_drawing set ü.pdf`)
    t.equal(await sha256Of(createReadStream(delivered)), big.sha256, '200 MiB: delivered whole')
  }
  return { dir, jobId: job.id }
}

/** On a failed run, what the run, its items and the warning log lines say. */
function explain(t: Test, h: Harness, run: RunDetail) {
  if (run.state === 'succeeded') return
  t.comment(`run ${run.state}: ${run.errorCode ?? ''} ${run.errorMessage ?? ''}`)
  for (const item of run.items.filter((i) => i.state !== 'done'))
    t.comment(`  ${item.name}: ${item.state} ${item.errorCode ?? ''} ${item.errorMessage ?? ''}`)
  for (const line of h.logs
    .join('')
    .split('\n')
    .filter((l) => /"level":(40|50|60)/.test(l))
    .slice(-10))
    t.comment(`  log: ${line}`)
}

function noSecretsLogged(t: Test, h: Harness) {
  const logText = h.logs.join('')
  for (const secret of [testUser.password, KEY_PASSPHRASE, h.sandbox.clientSecret, API_KEY]) {
    t.notOk(logText.includes(secret), 'no secret in the logs')
  }
  t.notOk(logText.includes('PRIVATE KEY'), 'no private key in the logs')
}

/** Opens `count` clients at once; the first line each is sent (421 when the server refuses one). */
async function greetings(port: number, count: number): Promise<string[]> {
  const sockets = Array.from({ length: count }, () => connect(port, '127.0.0.1'))
  try {
    return await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<string>((resolve, reject) => {
            let text = ''
            socket.setTimeout(5000, () => resolve(text))
            socket.on('data', (chunk: Buffer) => {
              text += chunk.toString('latin1')
              if (text.includes('\n')) resolve(text.split(/\r?\n/)[0] as string)
            })
            socket.once('error', reject)
            socket.once('close', () => resolve(text))
          }),
      ),
    )
  } finally {
    for (const socket of sockets) socket.destroy()
  }
}

/** How the bridge recorded each path of a run: an item's state and code, or a note's reason. */
function outcomes(run: RunDetail): Map<string, string> {
  const seen = new Map<string, string>()
  for (const item of run.items)
    seen.set(item.path, `item ${item.state}${item.errorCode ? ` ${item.errorCode}` : ''}`)
  for (const note of run.notes) seen.set(note.path, `note ${note.reason}`)
  return seen
}

/** Registers the interop tests of one daemon kind on the root tap test. */
export function realServersSuite(kind: DaemonKind): void {
  testUser = localAccount(`sdbinterop${kind.replace('-', '')}`)
  const servers = allServers.filter((s) => s.kind === kind)
  const ftpDaemons = allFtpDaemons.filter((s) => s.kind === kind)
  const symlinks = symlinkServers.filter((s) => s.kind === kind)
  t.before(() => {
    if (process.getuid?.() === 0) owner = ensureTestUser(testUser)
  })

  for (const server of servers) {
    t.test(server.name, { skip: skipUnlessDaemon(server.daemon) }, async (t) => {
      const big = await bigFile(t)

      t.test('inbound: odd names and a 200 MiB file', async (t) => {
        const h = await startFor(server, 'plain', (e) => [standardFlow(e)], t)
        await runInbound(t, h, big)
        noSecretsLogged(t, h)
      })

      t.test('outbound export: odd names and a 200 MiB file', async (t) => {
        const h = await startFor(server, 'plain', (e) => [outboundFlow(e)], t)
        await runOutbound(t, h, big)
        noSecretsLogged(t, h)
      })
    })
  }

  for (const server of ftpDaemons) {
    t.test(
      `${server.name} refusing rename, endpoint supportsRename: false`,
      { skip: skipUnlessDaemon(server.daemon) },
      async (t) => {
        const h = await startFor(
          server,
          'no-rename',
          (e) => [
            outboundFlow(e),
            standardFlow(e),
            standardFlow(e, {
              name: 'delete-after',
              source: { endpoint: e, directory: '/drop', include: ['**/*.pdf'] },
              after: { success: 'delete', errorDirectory: '/errors' },
            }),
          ],
          t,
          { supportsRename: false },
        )
        const probe = createRemoteFiles(
          adapterEndpoint({
            ...baseEndpoint,
            name: 'probe',
            port: h.remote.port,
            protocol: 'ftp',
            username: testUser.name,
            password: testUser.password,
            supportsRename: true,
          }),
          silent,
        )
        t.teardown(() => probe.close())
        await h.put('probe.txt', 'x')
        // vsftpd answers 550 Permission denied (REMOTE_PERMISSION_DENIED); pure-ftpd 550 Rename/move failure.
        const refusal = await failureCode(probe.rename('/probe.txt', '/probe-renamed.txt'))
        t.comment(`a rename on this server fails with ${refusal}`)
        t.match(refusal, /^REMOTE_(PERMISSION_DENIED|NOT_FOUND)$/, 'the server really refuses RNFR/RNTO')
        t.same(await h.list(''), ['probe.txt'], 'and nothing was renamed')
        await rm(join(h.remoteRoot, 'probe.txt'))
        await probe.close()

        t.test('outbound writes directly under the final name', async (t) => {
          await runOutbound(t, h, null)
        })

        t.test('inbound with after.success "move": uploaded, then failed with a clear code', async (t) => {
          seedRecords(h.sandbox)
          await h.put('inbox/ACME-001_contract.pdf', 'acme contract')
          const run = await h.runAndWait('partner-docs')
          t.equal(run.state, 'failed', 'the run reports the failure')
          const [item] = run.items
          t.equal(item?.state, 'failed')
          t.equal(item?.errorCode, 'REMOTE_PERMISSION_DENIED', 'code: REMOTE_PERMISSION_DENIED')
          t.match(
            item?.errorMessage,
            /uploaded to S-Drive as \w+, but the source could not be disposed of: .*without rename support/,
            'the message says the document is in S-Drive and what is left to do',
          )
          t.same(
            sdriveFiles(h.sandbox).map((f) => f.cg__File_Name__c),
            ['ACME-001_contract.pdf'],
            'the document is in S-Drive',
          )
          t.same(await h.list('inbox'), ['ACME-001_contract.pdf'], 'the source stays where it was')
          const again = await h.runAndWait('partner-docs')
          t.equal(again.counts.total, 0, 'a later run does not take it again')
          t.equal(sdriveFiles(h.sandbox).length, 1, 'no duplicate')
        })

        t.test('inbound with after.success "delete" needs no rename', async (t) => {
          await h.put("drop/O'BRIEN-1_deal über 2024.pdf", 'obrien deal')
          const run = await h.runAndWait('delete-after')
          t.equal(run.state, 'succeeded')
          t.equal(run.counts.done, 1)
          t.same(await h.list('drop'), [], 'the source is deleted')
          t.ok(
            sdriveFiles(h.sandbox).some((f) => f.cg__File_Name__c === "O'BRIEN-1_deal über 2024.pdf"),
            'and in S-Drive',
          )
        })
      },
    )

    t.test(
      `${server.name} allowing 2 connections per client, endpoint maxConnections: 2`,
      { skip: skipUnlessDaemon(server.daemon) },
      async (t) => {
        const h = await startFor(server, 'two-connections', (e) => [standardFlow(e), outboundFlow(e)], t, {
          maxConnections: 2,
        })
        const codes = (await greetings(h.remote.port, 3)).map((line) => line.slice(0, 3)).sort()
        t.same(codes, ['220', '220', '421'], 'of three clients at once one is refused: the limit is real')
        // The server forgets the refused and closed clients once their processes end.
        for (let attempt = 0; attempt < 100; attempt++) {
          const lines = await greetings(h.remote.port, 2)
          if (lines.every((line) => line.startsWith('220'))) break
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        await new Promise((resolve) => setTimeout(resolve, 200))

        const ids = seedRecords(h.sandbox)
        for (let i = 0; i < 12; i++) await h.put(`inbox/ACME-001_part ${i} ü.pdf`, `part ${i}`)
        const started = await h.api('POST', '/v1/flows/partner-docs/runs')
        t.equal(started.status, 202)
        // The export runs at the same time as the inbound run, over the same endpoint.
        const exported = await runOutbound(t, h, null)
        const run = await h.waitForRun(started.json.runId)
        t.equal(run.state, 'succeeded', 'inbound succeeded beside the export')
        t.equal(run.counts.done, 12)
        t.equal(
          sdriveFiles(h.sandbox).filter(
            (f) => String(f.cg__Account__c).slice(0, 15) === ids.acme.slice(0, 15),
          ).length,
          12,
        )
        t.equal((await readdir(join(h.remoteRoot, 'processed'))).length, 12, 'every source moved')
        t.ok(exported.jobId, 'and the export delivered')
        t.notMatch(h.logs.join(''), /421 (There are )?too many/i, 'the bridge never went past the limit')
      },
    )
  }

  // All three daemons chroot the session to the served directory (ChrootDirectory, chroot_local_user,
  // --chrooteveryone): an absolute link out of it dangles there, a relative one within it resolves.
  for (const server of symlinks) {
    t.test(`${server.name}: symlinks in the inbox`, { skip: skipUnlessDaemon(server.daemon) }, async (t) => {
      const h = await startFor(server, 'plain', (e) => [standardFlow(e)], t)
      seedRecords(h.sandbox)
      const outside = await mkdtemp(join(tmpdir(), 'interop-outside-'))
      t.teardown(() => rm(outside, { recursive: true, force: true }))
      const secret = join(outside, 'ACME-001_secret.txt')
      await writeFile(secret, 'not for partners')
      const old = (Date.now() - 3600_000) / 1000
      await utimes(secret, old, old)
      await h.put('data/ACME-001_real.txt', 'inside the served directory')
      await h.put('inbox/ACME-001_contract.pdf', 'acme contract')
      await symlink(secret, join(h.remoteRoot, 'inbox', 'ACME-001_leak.txt'))
      await symlink('../data/ACME-001_real.txt', join(h.remoteRoot, 'inbox', 'ACME-001_alias.txt'))

      const plan = await h.api('POST', '/v1/flows/partner-docs/runs?dryRun=true')
      t.equal(plan.status, 200, 'the dry run answers')
      const run = await h.runAndWait('partner-docs')
      explain(t, h, run)
      const seen = outcomes(run)
      for (const [path, outcome] of seen) t.comment(`${path}: ${outcome}`)

      t.equal(run.state, 'succeeded', 'the run ends normally')
      t.equal(seen.get('/inbox/ACME-001_contract.pdf'), 'item done', 'the regular file is delivered')
      for (const link of ['/inbox/ACME-001_leak.txt', '/inbox/ACME-001_alias.txt']) {
        // Each daemon lists a link as a link, not as the file it points at: reported, not taken.
        t.equal(seen.get(link), 'note NOT_A_REGULAR_FILE', `${link}: reported, never followed`)
      }
      t.same(
        sdriveFiles(h.sandbox).map((f) => f.cg__File_Name__c),
        ['ACME-001_contract.pdf'],
        'nothing a link points at reached S-Drive',
      )
      t.equal(await readFile(secret, 'utf8'), 'not for partners', 'the file outside is untouched')
      t.equal(
        await readFile(join(h.remoteRoot, 'data', 'ACME-001_real.txt'), 'utf8'),
        'inside the served directory',
      )
      t.same(
        await h.list('inbox'),
        ['ACME-001_alias.txt', 'ACME-001_leak.txt'],
        'the links stay where they are',
      )
      t.same(await h.list('errors'), [], 'and are not moved to the error folder')
    })
  }

  t.test('the daemons report their versions', async (t) => {
    if (versions.size === 0) t.comment('no daemon ran here')
    for (const [daemon, version] of versions) t.comment(`${daemon}: ${version}`)
    if (versions.has('OpenSSH sshd')) t.match(versions.get('OpenSSH sshd'), /^SSH-2\.0-OpenSSH_\d/)
    if (versions.has('vsftpd')) t.match(versions.get('vsftpd'), /vsFTPd \d+\.\d+/)
    if (versions.has('pure-ftpd')) t.match(versions.get('pure-ftpd'), /^pure-ftpd v\d+\.\d+/)
  })
}
