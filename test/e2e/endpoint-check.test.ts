/**
 * The endpoint check over real sockets: the in-process SFTP, FTP and FTPS
 * servers, the HTTP route, the CLI, and OpenSSH sshd / vsftpd when the
 * machine has them (and the test runs as root).
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes, randomInt, X509Certificate } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { type AddressInfo, createServer } from 'node:net'
import { homedir, tmpdir, userInfo } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import ssh2 from 'ssh2'
import t, { type Test } from 'tap'
import { checkEndpoint } from '../../src/adapters/remote/check.js'
import { endpointDirectories, templateBase } from '../../src/adapters/remote/check-directories.js'
import { fingerprintOf } from '../../src/adapters/remote/index.js'
import { runCli } from '../../src/cli.js'
import { parseConfig } from '../../src/config/load.js'
import type { EndpointConfig } from '../../src/config/schema.js'
import type { EndpointReport } from '../../src/ports/endpoint-check.js'
import { startFtpServer } from '../../src/sandbox/ftp-server.js'
import { generateSshKeyPair, startSftpServer } from '../../src/sandbox/sftp-server.js'
import { caPem, serverCertPath, serverCertPem, serverKeyPath } from '../../src/sandbox/tls/index.js'
import {
  acceptsConnections,
  freePort,
  skipUnlessDaemon,
  sshdPath,
  stopDaemon,
  vsftpdPath,
} from '../support/daemons.js'
import { API_KEY, standardFlow, startHarness } from '../support/harness.js'
import { startSshd } from '../support/real-server-configs.js'
import { endpointConfig, sandboxSftpEndpoint } from '../support/remote-files-contract.js'
import { compiled } from '../support/service-build.js'

const silent = pino({ level: 'silent' })
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const fixturePath = join(repoRoot, 'test', 'fixtures', 'bridge.example.yaml')
const fixtureEnv = {
  BRIDGE_API_KEY: 'k3y-0123456789abcdef-k3y',
  SF_CLIENT_ID: '3MVG9-example-client-id',
  SF_CLIENT_SECRET: 'example-client-secret',
  PARTNER_SFTP_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
  PARTNER_SFTP_PASSPHRASE: 'correct horse',
  SCANNER_FTP_PASSWORD: 'scanner-pass',
  BANK_FTPS_PASSWORD: 'bank-pass',
  BANK_SFTP_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nBBBB\n-----END OPENSSH PRIVATE KEY-----\n',
  OM_SECRET: 'om-secret-0123456789abcdef',
}
const wrongPin = `SHA256:${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}`

async function tempRoot(t: Test, parent = tmpdir()): Promise<string> {
  const root = await mkdtemp(join(parent, 'endpoint-check-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  return root
}

/** A served root with /in (a directory) and /file.txt (a file). */
async function servedRoot(t: Test): Promise<string> {
  const root = await tempRoot(t)
  await mkdir(join(root, 'in'))
  await writeFile(join(root, 'file.txt'), 'x')
  return root
}

function assertClock(t: Test, report: EndpointReport, source: string, precisionSeconds: number): void {
  t.equal(report.clock?.source, source, `clock from ${source}`)
  t.equal(report.clock?.precisionSeconds, precisionSeconds, `mtime precision ${precisionSeconds} s`)
  const skew = report.clock?.skewSeconds ?? Number.NaN
  // Same machine, same clock: the estimate is off by at most the precision plus the probe's own duration.
  t.ok(Math.abs(skew) <= precisionSeconds + 1, `skew ${skew} s within ${precisionSeconds} s + 1 s`)
}

/** Directories the check was pointed at are reported as they are; probe files do not stay behind. */
async function assertDirectories(
  t: Test,
  report: EndpointReport,
  root: string,
  rename = true,
): Promise<void> {
  t.match(report.directories, [
    { path: '/in', exists: true, isDirectory: true, writable: true, canRename: rename, ok: true },
    { path: '/missing', exists: false, isDirectory: false, writable: false, canRename: null, ok: false },
    { path: '/file.txt', exists: true, isDirectory: false, writable: false, ok: false },
  ])
  t.same(await readdir(join(root, 'in')), [], 'the probe file was deleted')
}

t.test('SFTP: host key, extensions, directories, clock', async (t) => {
  const root = await servedRoot(t)
  const server = await startSftpServer({ root, users: [{ username: 'alice', password: 'pw' }] })
  t.teardown(server.close)
  const endpoint = sandboxSftpEndpoint(server)
  const report = await checkEndpoint(endpoint, ['/in', '/missing', '/file.txt'], silent)
  t.equal(report.error, undefined, 'no error')
  t.match(report, { protocol: 'sftp', port: server.port, connected: true, authenticated: true, ok: false })
  t.match(report.serverIdentification, /^SSH-2\.0-ssh2js/)
  t.same(report.hostKey, {
    fingerprint: server.hostKeySha256,
    keyType: 'ssh-ed25519',
    algorithm: 'ssh-ed25519',
    pinned: server.hostKeySha256,
    pins: [server.hostKeySha256],
    matchedPin: server.hostKeySha256,
    matchesPin: true,
    announced: [],
  })
  t.equal(report.features?.posixRename, false, 'the in-process server offers no posix-rename')
  t.equal(report.features?.mlsd, false)
  t.equal(report.tls, undefined)
  await assertDirectories(t, report, root)
  assertClock(t, report, 'SFTP stat', 1)
  t.ok(report.timings.totalMs >= 0 && report.timings.connectMs !== null && report.timings.loginMs !== null)
  t.notOk(JSON.stringify(report).includes('"pw"'), 'the password is nowhere in the report')

  const fine = await checkEndpoint(endpoint, ['/in'], silent)
  t.equal(fine.ok, true, 'ok when every directory is fine')

  const noRename = await checkEndpoint({ ...endpoint, supportsRename: false }, ['/in'], silent)
  t.match(noRename.directories, [{ writable: true, canRename: null, ok: true }], 'rename not tried')
})

t.test('SFTP: a host key that does not match the pin stops the check before the login', async (t) => {
  const hostKey = generateSshKeyPair()
  const parsed = ssh2.utils.parseKey(hostKey.public)
  if (parsed instanceof Error) throw parsed
  const fingerprint = fingerprintOf(parsed.getPublicSSH())
  let logins = 0
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('error', () => undefined)
    client.on('authentication', (context) => {
      logins++
      context.reject()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  const endpoint = (fields: Partial<EndpointConfig>) =>
    endpointConfig({
      protocol: 'sftp',
      host: '127.0.0.1',
      port,
      username: 'u',
      password: 'secret',
      ...fields,
    })

  const mismatch = await checkEndpoint(endpoint({ hostKeySha256: wrongPin }), ['/in'], silent)
  t.equal(mismatch.error?.code, 'HOST_KEY_MISMATCH')
  t.match(mismatch, { ok: false, connected: true, authenticated: false, directories: [] })
  t.same(mismatch.hostKey, {
    fingerprint,
    keyType: 'ssh-ed25519',
    algorithm: null,
    pinned: wrongPin,
    pins: [wrongPin],
    matchedPin: null,
    matchesPin: false,
    announced: [],
  })
  t.equal(logins, 0, 'no authentication was attempted')

  const unpinned = await checkEndpoint(endpoint({}), ['/in'], silent)
  t.equal(unpinned.error?.code, 'CONFIG_INVALID', 'no pin and no opt-out: not logging in either')
  t.match(unpinned.error?.message, fingerprint, 'naming the key to pin')
  t.equal(unpinned.hostKey?.matchesPin, null)
  t.equal(logins, 0, 'still no authentication')

  const pinned = await checkEndpoint(endpoint({ hostKeySha256: fingerprint }), ['/in'], silent)
  t.equal(pinned.error?.code, 'REMOTE_AUTH_FAILED', 'the right pin goes on to the login')
  t.ok(logins > 0, 'which this server counts')
})

t.test('FTP: FEAT features, directories, clock from MDTM', async (t) => {
  const root = await servedRoot(t)
  const server = await startFtpServer({ root, username: 'bob', password: 'pw' })
  t.teardown(server.close)
  const report = await checkEndpoint(
    endpointConfig({
      protocol: 'ftp',
      host: server.host,
      port: server.port,
      username: 'bob',
      password: 'pw',
    }),
    ['/in', '/missing', '/file.txt'],
    silent,
  )
  t.equal(report.error, undefined)
  t.match(report, { connected: true, authenticated: true, hostKey: undefined, tls: undefined })
  t.match(report.serverIdentification, /sdrive-ftp-bridge sandbox/)
  t.match(report.features, {
    mlsd: false,
    utf8: true,
    size: true,
    mdtm: true,
    restStream: false,
    hashCommands: [],
    posixRename: false,
  })
  t.same(
    report.features?.raw.find((feature) => feature.name === 'TYPE'),
    { name: 'TYPE', value: 'A,I,L' },
    'FEAT lines keep their parameters',
  )
  t.ok(
    report.warnings.some((warning) => /unencrypted/.test(warning)),
    'plain FTP is called out',
  )
  await assertDirectories(t, report, root)
  assertClock(t, report, 'MDTM', 0.001)
})

t.test(
  'FTPS explicit: certificate, TLS version, features; an untrusted certificate stops the login',
  async (t) => {
    const root = await servedRoot(t)
    const server = await startFtpServer({ root, username: 'bob', password: 'pw', tls: 'explicit' })
    t.teardown(server.close)
    const expected = new X509Certificate(serverCertPem)
    const endpoint = (tls: EndpointConfig['tls']) =>
      endpointConfig({
        protocol: 'ftps',
        host: server.host,
        port: server.port,
        username: 'bob',
        password: 'pw',
        tls,
      })
    const certificate = {
      subject: expected.subject.split('\n').join(', '),
      issuer: expected.issuer.split('\n').join(', '),
      fingerprint256: expected.fingerprint256,
      serialNumber: expected.serialNumber,
      validTo: new Date(expected.validTo).toISOString(),
    }

    for (const [version, tls] of [
      ['TLSv1.2', { rejectUnauthorized: true, ca: caPem, maxVersion: 'TLSv1.2' }],
      ['TLSv1.3', { rejectUnauthorized: true, ca: caPem, minVersion: 'TLSv1.3' }],
    ] as const) {
      const report = await checkEndpoint(endpoint(tls), ['/in'], silent)
      t.equal(report.error, undefined, `${version}: no error`)
      t.equal(report.ok, true, `${version}: ok`)
      t.match(report.tls, { version, verified: true, verificationError: null, certificate }, version)
      t.match(report.tls?.certificate?.subject, /CN=localhost/)
      t.match(report.tls?.certificate?.issuer, /CN=sdrive-ftp-bridge sandbox CA/)
      t.ok(report.features?.raw.some((feature) => feature.name === 'AUTH' && feature.value === 'TLS'))
      t.match(report.features, { mdtm: true, size: true, utf8: true })
      t.match(report.directories, [{ path: '/in', writable: true, canRename: true, ok: true }])
    }

    const untrusted = await checkEndpoint(endpoint({ rejectUnauthorized: true }), ['/in'], silent)
    t.equal(untrusted.error?.code, 'TLS_CERTIFICATE_INVALID')
    t.match(untrusted, { connected: true, authenticated: false, directories: [] })
    t.match(untrusted.tls, { verified: false, certificate }, 'the certificate is still reported')

    const insecure = await checkEndpoint(endpoint({ rejectUnauthorized: false }), ['/in'], silent)
    t.match(insecure, { ok: true, authenticated: true, tls: { verified: false } }, 'allowed when configured')
    t.ok(insecure.warnings.some((warning) => /does not verify/.test(warning)))
  },
)

t.test('unreachable servers and wrong passwords are errors on the report', async (t) => {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  const refused = await checkEndpoint(
    endpointConfig({ protocol: 'ftp', host: '127.0.0.1', port, username: 'bob', password: 'pw' }),
    ['/in'],
    silent,
  )
  t.match(refused, { ok: false, connected: false, error: { code: 'CONNECTION_LOST' } })

  const root = await servedRoot(t)
  const server = await startFtpServer({ root, username: 'bob', password: 'pw' })
  t.teardown(server.close)
  const wrong = await checkEndpoint(
    endpointConfig({
      protocol: 'ftp',
      host: server.host,
      port: server.port,
      username: 'bob',
      password: 'nope',
    }),
    ['/in'],
    silent,
  )
  t.match(wrong, { ok: false, connected: true, authenticated: false, error: { code: 'REMOTE_AUTH_FAILED' } })
  t.notOk(JSON.stringify(wrong).includes('nope'), 'the password is not echoed')
})

t.test('the directories checked are the ones the flows use', async (t) => {
  const config = parseConfig(await readFile(fixturePath, 'utf8'), 'yaml', fixtureEnv)
  t.same(endpointDirectories(config.flows, 'partner-sftp'), [
    '/outbound/invoices',
    '/outbound/invoices/processed',
    '/outbound/invoices/error',
  ])
  t.same(endpointDirectories(config.flows, 'bank-sftp'), ['/incoming/contracts'], 'up to the first {')
  t.same(endpointDirectories(config.flows, 'nobody'), [])
  t.equal(templateBase('/out/acct-{Id}/x'), '/out')
  t.equal(templateBase('/{Id}'), '/')
  t.equal(templateBase('/plain/dir/'), '/plain/dir')
})

t.test('HTTP: POST /v1/endpoints/{name}/check', async (t) => {
  const h = await startHarness({ protocol: 'sftp', flows: (endpoint) => [standardFlow(endpoint)] })
  t.teardown(() => h.close())
  await mkdir(join(h.remoteRoot, 'inbox'))
  await mkdir(join(h.remoteRoot, 'processed'))

  const res = await h.api('POST', '/v1/endpoints/partner/check')
  t.equal(res.status, 200)
  const report = res.json as EndpointReport
  t.match(report, { endpoint: 'partner', protocol: 'sftp', connected: true, authenticated: true, ok: false })
  t.equal(report.hostKey?.fingerprint, h.remote.hostKeySha256)
  t.equal(report.hostKey?.matchesPin, true)
  t.match(report.directories, [
    { path: '/inbox', ok: true, writable: true },
    { path: '/processed', ok: true, writable: true },
    { path: '/errors', exists: false, ok: false },
  ])

  // The response schema must not drop what the check found.
  const endpoint = h.server.bridge.endpoints.get('partner') as EndpointConfig
  const direct = await checkEndpoint(endpoint, ['/inbox', '/processed', '/errors'], silent)
  const keys = (value: unknown) => Object.keys(value as object).sort()
  t.same(keys(report), keys(direct), 'every report field travels')
  for (const field of ['hostKey', 'features', 'clock', 'timings'] as const) {
    t.same(keys(report[field]), keys(direct[field]), `every ${field} field travels`)
  }
  t.same(keys(report.directories[2]), keys(direct.directories[2]))

  const unknown = await h.api('POST', '/v1/endpoints/nope/check')
  t.equal(unknown.status, 404)
  t.equal(unknown.json.error.code, 'NOT_FOUND')
  const anonymous = await fetch(`${h.url}/v1/endpoints/partner/check`, { method: 'POST' })
  t.equal(anonymous.status, 401)
  const wrongKey = await h.api('POST', '/v1/endpoints/partner/check', {
    headers: { authorization: `Bearer ${API_KEY}x` },
  })
  t.equal(wrongKey.status, 401)
})

function cliIo(env: Record<string, string | undefined>) {
  const out: string[] = []
  const err: string[] = []
  return {
    io: { env, stdout: (text: string) => out.push(text), stderr: (text: string) => err.push(text) },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  }
}

t.test('CLI: check-config', async (t) => {
  const ok = cliIo(fixtureEnv)
  t.equal(await runCli(['check-config', fixturePath], ok.io), 0)
  t.match(ok.stdout(), /configuration is valid/)
  t.match(ok.stdout(), /partner-sftp\s+sftp:\/\/acme@sftp\.partner\.example\.com:22/)
  t.match(ok.stdout(), /flows \(\d+\):/)
  t.notOk(ok.stdout().includes('bank-pass'), 'no secrets in the summary')

  const viaEnv = cliIo({ ...fixtureEnv, BRIDGE_CONFIG: fixturePath })
  t.equal(await runCli(['check-config'], viaEnv.io), 0, 'BRIDGE_CONFIG is the default file')

  const missingEnv = cliIo({ ...fixtureEnv, BANK_FTPS_PASSWORD: undefined })
  t.equal(await runCli(['check-config', fixturePath], missingEnv.io), 2)
  t.match(
    missingEnv.stderr(),
    /endpoints\.bank-ftps\.password: environment variable BANK_FTPS_PASSWORD is not set/,
  )

  const dir = await tempRoot(t)
  const broken = join(dir, 'broken.yaml')
  const text = await readFile(fixturePath, 'utf8')
  await writeFile(broken, text.replace('maxConnections: 4', 'maxConnections: many'))
  const bad = cliIo(fixtureEnv)
  t.equal(await runCli(['check-config', broken], bad.io), 2)
  t.match(bad.stderr(), /endpoints\.partner-sftp\.maxConnections/, 'names the key')

  const usage = cliIo({})
  t.equal(await runCli(['frobnicate'], usage.io), 2)
  t.match(usage.stderr(), /unknown command "frobnicate"[\s\S]*usage:/)

  // The entry point itself, as the bin runs it.
  const child = spawn(process.execPath, [compiled('src/cli.ts'), 'check-config', fixturePath], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, ...fixtureEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 0, 'the process exits 0')
  t.match(stdout, /configuration is valid/)
})

t.test('CLI: check-endpoint', async (t) => {
  const h = await startHarness({ protocol: 'ftps', flows: (endpoint) => [standardFlow(endpoint)] })
  t.teardown(() => h.close())
  for (const dir of ['inbox', 'processed', 'errors']) await mkdir(join(h.remoteRoot, dir))
  const dir = await tempRoot(t)
  const configPath = join(dir, 'bridge.json')
  await writeFile(configPath, h.configText)

  const text = cliIo(h.env)
  t.equal(await runCli(['check-endpoint', 'partner', '--config', configPath], text.io), 0, text.stdout())
  t.match(text.stdout(), /endpoint partner \(ftps:\/\/127\.0\.0\.1:\d+\): OK/)
  t.match(text.stdout(), /TLS: TLSv1\.\d .*verified/)
  t.match(text.stdout(), /ok {3}\/inbox: writable yes, rename yes/)

  const json = cliIo(h.env)
  t.equal(await runCli(['check-endpoint', 'partner', `--config=${configPath}`, '--json'], json.io), 0)
  const report = JSON.parse(json.stdout()) as EndpointReport
  t.match(report, { endpoint: 'partner', ok: true, tls: { verified: true } })
  t.equal(report.directories.length, 3)

  await rm(join(h.remoteRoot, 'errors'), { recursive: true })
  const failing = cliIo(h.env)
  t.equal(
    await runCli(['check-endpoint', 'partner', '--config', configPath], failing.io),
    1,
    'a problem exits 1',
  )
  t.match(failing.stdout(), /FAIL \/errors: missing/)

  const unknown = cliIo(h.env)
  t.equal(await runCli(['check-endpoint', 'nope', '--config', configPath], unknown.io), 2)
  t.match(unknown.stderr(), /endpoint "nope" is not configured.*configured: partner/)
})

// Real daemons, as test/contract/remote-files-sftp and -vsftpd.test.ts run them; skipped (with a comment) without root.

t.test('OpenSSH sshd', { skip: skipUnlessDaemon(sshdPath) }, async (t) => {
  // ChrootDirectory wants root-owned components that are not group/world-writable; /tmp is not.
  const root = await tempRoot(t, homedir())
  await mkdir(join(root, 'in'))
  await chmod(root, 0o755)
  const clientKey = generateSshKeyPair()
  const sshd = await startSshd({ root, user: userInfo().username, authorizedKey: clientKey.public })
  t.teardown(() => sshd.close())
  const { port, hostKeySha256: fingerprint } = sshd
  // The fingerprint as OpenSSH itself prints it.
  const keygen = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', sshd.hostKeyPath], {
    encoding: 'utf8',
  })
  t.equal(keygen.split(' ')[1], fingerprint, 'ssh-keygen -l agrees')

  const endpoint = endpointConfig({
    protocol: 'sftp',
    host: '127.0.0.1',
    port,
    username: userInfo().username,
    privateKey: clientKey.private,
    hostKeySha256: fingerprint,
  })
  const report = await checkEndpoint(endpoint, ['/in', '/missing'], silent)
  t.equal(report.error, undefined)
  t.match(report.serverIdentification, /^SSH-2\.0-OpenSSH_/)
  t.match(report.hostKey, { fingerprint, keyType: 'ssh-ed25519', matchesPin: true })
  t.match(report.features, { posixRename: true, statvfs: true, hardlink: true, fsync: true })
  t.ok(report.features?.raw.some((feature) => feature.name === 'posix-rename@openssh.com'))
  t.match(report.directories, [
    { path: '/in', writable: true, canRename: true, ok: true },
    { path: '/missing', exists: false, ok: false },
  ])
  assertClock(t, report, 'SFTP stat', 1)

  const mismatch = await checkEndpoint({ ...endpoint, hostKeySha256: wrongPin }, ['/in'], silent)
  t.match(mismatch, {
    authenticated: false,
    error: { code: 'HOST_KEY_MISMATCH' },
    hostKey: { fingerprint },
  })
})

t.test('vsftpd', { skip: skipUnlessDaemon(vsftpdPath) }, async (t) => {
  const user = { name: 'sdrivebridgetest', password: randomBytes(12).toString('base64url') }
  try {
    execFileSync('id', [user.name], { stdio: 'ignore' })
  } catch {
    execFileSync('useradd', ['--no-create-home', '--home-dir', tmpdir(), '--shell', '/bin/bash', user.name])
  }
  execFileSync('chpasswd', { input: `${user.name}:${user.password}\n` })
  const root = await tempRoot(t)
  await mkdir(join(root, 'in'), { mode: 0o777 })
  await chmod(join(root, 'in'), 0o777)
  await chmod(root, 0o777)

  for (const tls of [false, 'explicit'] as const) {
    const dir = await tempRoot(t)
    const port = await freePort()
    const pasvMin = randomInt(32_000, 34_000)
    const config = [
      'listen=YES',
      'listen_address=127.0.0.1',
      `listen_port=${port}`,
      'background=NO',
      'seccomp_sandbox=NO',
      'anonymous_enable=NO',
      'local_enable=YES',
      'write_enable=YES',
      'chroot_local_user=YES',
      'allow_writeable_chroot=YES',
      `local_root=${root}`,
      'check_shell=NO',
      'userlist_enable=NO',
      'pasv_address=127.0.0.1',
      `pasv_min_port=${pasvMin}`,
      `pasv_max_port=${pasvMin + 50}`,
      'utf8_filesystem=YES',
      'use_localtime=NO',
      'xferlog_enable=NO',
      `vsftpd_log_file=${join(dir, 'vsftpd.log')}`,
      ...(tls
        ? [
            'ssl_enable=YES',
            `rsa_cert_file=${serverCertPath}`,
            `rsa_private_key_file=${serverKeyPath}`,
            'require_ssl_reuse=YES',
            'force_local_logins_ssl=YES',
            'force_local_data_ssl=YES',
          ]
        : []),
    ]
    await writeFile(join(dir, 'vsftpd.conf'), `${config.join('\n')}\n`)
    const child = spawn(vsftpdPath, [join(dir, 'vsftpd.conf')], { stdio: 'ignore' })
    t.teardown(() => stopDaemon(child))
    await acceptsConnections(port, child)
    const report = await checkEndpoint(
      endpointConfig({
        protocol: tls ? 'ftps' : 'ftp',
        host: '127.0.0.1',
        port,
        username: user.name,
        password: user.password,
        tls: { rejectUnauthorized: true, ca: caPem },
      }),
      ['/in', '/missing'],
      silent,
    )
    const label = tls ? 'vsftpd FTPS' : 'vsftpd FTP'
    t.equal(report.error, undefined, `${label}: no error`)
    t.match(report.serverIdentification, /^220/, `${label}: welcome`)
    t.match(
      report.features,
      { epsv: true, mdtm: true, size: true, utf8: true, restStream: true, mlsd: false },
      `${label}: FEAT`,
    )
    const names = report.features?.raw.map((feature) => feature.name) ?? []
    t.ok(
      ['EPRT', 'EPSV', 'MDTM', 'PASV', 'SIZE', 'TVFS', 'UTF8'].every((name) => names.includes(name)),
      `${label}: ${names.join(' ')}`,
    )
    if (tls) {
      t.ok(
        names.includes('AUTH') && names.includes('PBSZ') && names.includes('PROT'),
        `${label}: TLS features`,
      )
      t.match(report.tls, {
        verified: true,
        certificate: { fingerprint256: new X509Certificate(serverCertPem).fingerprint256 },
      })
    }
    t.match(
      report.directories,
      [
        { path: '/in', writable: true, canRename: true, ok: true },
        { path: '/missing', exists: false, ok: false },
      ],
      `${label}: directories`,
    )
    assertClock(t, report, 'MDTM', 1)
    t.same(await readdir(join(root, 'in')), [], `${label}: probe file deleted`)
  }
})
