/**
 * The RemoteFiles contract against every adapter + server pair, plus the
 * protocol-specific checks: host key pinning, TLS trust, logins.
 */
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { homedir, tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import type { EndpointConfig } from '../../src/config/schema.js'
import { startFtpServer } from '../../src/sandbox/ftp-server.js'
import { generateSshKeyPair, startSftpServer } from '../../src/sandbox/sftp-server.js'
import { caPem } from '../../src/sandbox/tls/index.js'
import { skipUnlessDaemon, sshdPath, vsftpdPath } from '../support/daemons.js'
import { ensureTestUser, startSshd, startVsftpd, testUser } from '../support/real-server-configs.js'
import {
  type ContractServer,
  type ContractTarget,
  collect,
  endpointConfig,
  failureCode,
  runRemoteFilesContract,
  sandboxSftpEndpoint,
} from '../support/remote-files-contract.js'

const silent = pino({ level: 'silent' })

/** A logger whose JSON lines the test can read back. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line))
      callback()
    },
  })
  return { logger: pino({ level: 'debug' }, sink), lines }
}

const clientKey = generateSshKeyPair({
  passphrase: 'key passphrase',
  cipher: 'aes256-ctr',
  rounds: 4,
})

function sftpTarget(name: string, auth: Partial<EndpointConfig>): ContractTarget {
  return {
    name,
    mtimePrecisionMs: 1000,
    async start(root): Promise<ContractServer> {
      const server = await startSftpServer({
        root,
        users: [{ username: 'alice', password: 'alice secret', publicKey: clientKey.public }],
      })
      return {
        remote: (overrides) =>
          createRemoteFiles(
            endpointConfig({
              protocol: 'sftp',
              host: server.host,
              port: server.port,
              username: 'alice',
              hostKeySha256: server.hostKeySha256,
              ...auth,
              ...overrides,
            }),
            silent,
          ),
        faults: server.faults,
        maxConcurrentConnections: server.maxConcurrentConnections,
        close: server.close,
      }
    },
  }
}

function ftpTarget(
  name: string,
  tls: 'explicit' | 'implicit' | false,
  endpoint: Partial<EndpointConfig> = {},
): ContractTarget {
  return {
    name,
    mtimePrecisionMs: 60_000,
    async start(root): Promise<ContractServer> {
      const server = await startFtpServer({ root, username: 'bob', password: 'bob secret', tls })
      return {
        remote: (overrides) =>
          createRemoteFiles(
            endpointConfig({
              protocol: tls === 'explicit' ? 'ftps' : tls === 'implicit' ? 'ftps-implicit' : 'ftp',
              host: server.host,
              port: server.port,
              username: 'bob',
              password: 'bob secret',
              tls: { rejectUnauthorized: true, ca: caPem },
              ...endpoint,
              ...overrides,
            }),
            silent,
          ),
        faults: server.faults,
        maxConcurrentConnections: server.maxConcurrentConnections,
        close: server.close,
      }
    },
  }
}

const targets: ContractTarget[] = [
  sftpTarget('SFTP, password', { password: 'alice secret' }),
  sftpTarget('SFTP, private key with passphrase', {
    privateKey: clientKey.private,
    passphrase: 'key passphrase',
  }),
  ftpTarget('FTP', false),
  ftpTarget('FTPS explicit, TLS 1.2', 'explicit', {
    tls: { rejectUnauthorized: true, ca: caPem, maxVersion: 'TLSv1.2' },
  }),
  ftpTarget('FTPS explicit, TLS 1.3', 'explicit', {
    tls: { rejectUnauthorized: true, ca: caPem, minVersion: 'TLSv1.3' },
  }),
  ftpTarget('FTPS implicit', 'implicit'),
]

for (const target of targets)
  t.test(`contract: ${target.name}`, async (t) => runRemoteFilesContract(t, target))

// Real daemons, when the machine has them; there are no faults to inject into these.

function sshdTarget(): ContractTarget {
  return {
    name: 'OpenSSH sshd (internal-sftp, key login)',
    mtimePrecisionMs: 1000,
    // ChrootDirectory wants every component root-owned and not group/world-writable; /tmp is not.
    rootParent: homedir(),
    async start(root) {
      const sshd = await startSshd({ root, user: userInfo().username, authorizedKey: clientKey.public })
      return {
        remote: (overrides) =>
          createRemoteFiles(
            endpointConfig({
              protocol: 'sftp',
              host: sshd.host,
              port: sshd.port,
              username: userInfo().username,
              privateKey: clientKey.private,
              passphrase: 'key passphrase',
              hostKeySha256: sshd.hostKeySha256,
              ...overrides,
            }),
            silent,
          ),
        close: sshd.close,
      }
    },
  }
}

function vsftpdTarget(
  name: string,
  tls: 'explicit' | 'implicit' | false,
  endpointTls: EndpointConfig['tls'],
): ContractTarget {
  return {
    name,
    mtimePrecisionMs: 60_000,
    async start(root) {
      const vsftpd = await startVsftpd({ root, tls })
      return {
        remote: (overrides) =>
          createRemoteFiles(
            endpointConfig({
              protocol: tls === 'explicit' ? 'ftps' : tls === 'implicit' ? 'ftps-implicit' : 'ftp',
              host: vsftpd.host,
              port: vsftpd.port,
              username: testUser.name,
              password: testUser.password,
              tls: endpointTls,
              ...overrides,
            }),
            silent,
          ),
        close: vsftpd.close,
      }
    },
  }
}

t.test('system daemons', async (t) => {
  const noSshd = skipUnlessDaemon(sshdPath)
  if (noSshd) t.comment(`${noSshd}: contract not run against OpenSSH sshd`)
  else t.test(`contract: ${sshdTarget().name}`, async (t) => runRemoteFilesContract(t, sshdTarget()))

  const noVsftpd = skipUnlessDaemon(vsftpdPath)
  if (noVsftpd) t.comment(`${noVsftpd}: contract not run against vsftpd`)
  else {
    ensureTestUser()
    const trust = { rejectUnauthorized: true, ca: caPem }
    for (const target of [
      vsftpdTarget('vsftpd FTP', false, { rejectUnauthorized: true }),
      vsftpdTarget('vsftpd FTPS explicit, TLS 1.2', 'explicit', { ...trust, maxVersion: 'TLSv1.2' }),
      vsftpdTarget('vsftpd FTPS explicit, TLS 1.3', 'explicit', { ...trust, minVersion: 'TLSv1.3' }),
      vsftpdTarget('vsftpd FTPS implicit', 'implicit', trust),
    ]) {
      t.test(`contract: ${target.name}`, async (t) => runRemoteFilesContract(t, target))
    }
  }
})

async function tempRoot(t: Test): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'remote-specific-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  return root
}

t.test('SFTP host key pinning', async (t) => {
  const root = await tempRoot(t)
  await writeFile(join(root, 'f.txt'), 'x')
  const server = await startSftpServer({ root, users: [{ username: 'alice', password: 'pw' }] })
  t.teardown(server.close)
  const base = {
    protocol: 'sftp' as const,
    host: server.host,
    port: server.port,
    username: 'alice',
    password: 'pw',
  }
  const open = (fields: Partial<EndpointConfig>, logger = silent) => {
    const remote = createRemoteFiles(endpointConfig({ ...base, ...fields }), logger)
    t.teardown(() => remote.close())
    return remote
  }

  t.equal(
    await failureCode(open({ hostKeySha256: `SHA256:${Buffer.alloc(32, 7).toString('base64')}` }).list('/')),
    'HOST_KEY_MISMATCH',
    'a different pinned key is refused',
  )

  const unpinned = open({})
  const refusal = await unpinned.list('/').catch((error: unknown) => error)
  t.match(
    refusal,
    { code: 'CONFIG_INVALID', message: /no hostKeySha256/ },
    'no pin and no opt-out is refused',
  )
  t.match(
    refusal,
    { message: new RegExp(server.hostKeySha256.replace(/[+/]/g, '\\$&')) },
    'naming the key seen',
  )

  const bare = server.hostKeySha256.replace(/^SHA256:/, '')
  t.equal((await open({ hostKeySha256: bare }).list('/')).length, 1, 'bare base64 pin')
  t.equal((await open({ hostKeySha256: `${bare}=` }).list('/')).length, 1, 'padded base64 pin')

  const { logger, lines } = capturingLogger()
  const insecure = open({ insecureSkipHostKeyCheck: true }, logger)
  await insecure.list('/')
  await insecure.list('/')
  t.equal(
    lines.filter((line) => /host key verification is disabled/.test(String(line.msg))).length,
    1,
    'warned once',
  )

  t.throws(() => open({ hostKeySha256: 'SHA256:tooshort' }), { code: 'CONFIG_INVALID' }, 'malformed pin')
})

t.test('the SFTP sandbox keeps clients inside its root', async (t) => {
  const root = await tempRoot(t)
  const outside = await tempRoot(t)
  await writeFile(join(outside, 'secret.txt'), 'secret')
  await symlink(outside, join(root, 'escape'))
  const server = await startSftpServer({ root, users: [{ username: 'alice', password: 'pw' }] })
  t.teardown(server.close)
  const remote = createRemoteFiles(sandboxSftpEndpoint(server), silent)
  t.teardown(() => remote.close())
  t.equal(await failureCode(remote.list('/escape')), 'REMOTE_PERMISSION_DENIED', 'a symlink out is refused')
  t.equal(await failureCode(remote.read('/escape/secret.txt', collect)), 'REMOTE_PERMISSION_DENIED')
  t.same(
    (await remote.list('/../../..')).map((entry) => entry.name),
    ['escape'],
    '.. stops at the root',
  )
})

t.test('wrong credentials are REMOTE_AUTH_FAILED', async (t) => {
  const root = await tempRoot(t)
  const sftp = await startSftpServer({
    root,
    users: [{ username: 'alice', password: 'pw', publicKey: clientKey.public }],
  })
  t.teardown(sftp.close)
  const ftp = await startFtpServer({ root, username: 'bob', password: 'pw' })
  t.teardown(ftp.close)
  const other = generateSshKeyPair()
  const cases: [string, EndpointConfig][] = [
    [
      'SFTP password',
      endpointConfig({
        protocol: 'sftp',
        host: sftp.host,
        port: sftp.port,
        username: 'alice',
        password: 'wrong',
        hostKeySha256: sftp.hostKeySha256,
      }),
    ],
    [
      'SFTP unknown key',
      endpointConfig({
        protocol: 'sftp',
        host: sftp.host,
        port: sftp.port,
        username: 'alice',
        privateKey: other.private,
        hostKeySha256: sftp.hostKeySha256,
      }),
    ],
    [
      'FTP password',
      endpointConfig({ protocol: 'ftp', host: ftp.host, port: ftp.port, username: 'bob', password: 'wrong' }),
    ],
  ]
  for (const [name, endpoint] of cases) {
    const remote = createRemoteFiles(endpoint, silent)
    t.equal(await failureCode(remote.list('/')), 'REMOTE_AUTH_FAILED', name)
    await remote.close()
  }
  const wrongPassphrase = createRemoteFiles(
    endpointConfig({
      protocol: 'sftp',
      host: sftp.host,
      port: sftp.port,
      username: 'alice',
      privateKey: clientKey.private,
      passphrase: 'nope',
      hostKeySha256: sftp.hostKeySha256,
    }),
    silent,
  )
  t.equal(
    await failureCode(wrongPassphrase.list('/')),
    'CONFIG_INVALID',
    'a key that cannot be decrypted is a config error',
  )
  await wrongPassphrase.close()
})

t.test('FTPS certificate trust', async (t) => {
  const root = await tempRoot(t)
  await writeFile(join(root, 'f.txt'), 'trusted')
  for (const mode of ['explicit', 'implicit'] as const) {
    const server = await startFtpServer({ root, username: 'bob', password: 'pw', tls: mode })
    t.teardown(server.close)
    const endpoint = (tls: EndpointConfig['tls']) =>
      endpointConfig({
        protocol: mode === 'explicit' ? 'ftps' : 'ftps-implicit',
        host: server.host,
        port: server.port,
        username: 'bob',
        password: 'pw',
        tls,
      })
    const untrusted = createRemoteFiles(endpoint({ rejectUnauthorized: true }), silent)
    t.equal(await failureCode(untrusted.list('/')), 'TLS_CERTIFICATE_INVALID', `${mode}: unknown CA refused`)
    await untrusted.close()

    const wrongName = createRemoteFiles(
      endpoint({ rejectUnauthorized: true, ca: caPem, servername: 'example.com' }),
      silent,
    )
    t.equal(
      await failureCode(wrongName.list('/')),
      'TLS_CERTIFICATE_INVALID',
      `${mode}: wrong host name refused`,
    )
    await wrongName.close()

    const trusted = createRemoteFiles(endpoint({ rejectUnauthorized: true, ca: caPem }), silent)
    t.equal((await trusted.read('/f.txt', collect)).toString(), 'trusted', `${mode}: fixture CA trusted`)
    await trusted.close()
  }
})

t.test('FTPS data connections resume the control connection TLS session', async (t) => {
  const root = await tempRoot(t)
  await writeFile(join(root, 'f.txt'), 'resumed')
  const variants: [string, 'explicit' | 'implicit', EndpointConfig['tls']][] = [
    ['explicit TLS 1.2', 'explicit', { rejectUnauthorized: true, ca: caPem, maxVersion: 'TLSv1.2' }],
    ['explicit TLS 1.3', 'explicit', { rejectUnauthorized: true, ca: caPem, minVersion: 'TLSv1.3' }],
    ['implicit', 'implicit', { rejectUnauthorized: true, ca: caPem }],
  ]
  for (const [name, mode, tls] of variants) {
    const server = await startFtpServer({ root, username: 'bob', password: 'pw', tls: mode })
    t.teardown(server.close)
    const { logger, lines } = capturingLogger()
    const remote = createRemoteFiles(
      endpointConfig({
        protocol: mode === 'explicit' ? 'ftps' : 'ftps-implicit',
        host: server.host,
        port: server.port,
        username: 'bob',
        password: 'pw',
        tls,
        maxConnections: 1,
      }),
      logger,
    )
    for (let i = 0; i < 3; i++) {
      t.equal((await remote.read('/f.txt', collect)).toString(), 'resumed')
      await remote.list('/')
    }
    await remote.close()
    const reuse = lines.filter((line) => 'tlsSessionReused' in line).map((line) => line.tlsSessionReused)
    t.comment(
      `${name}: ${reuse.filter(Boolean).length} of ${reuse.length} data connections resumed the session`,
    )
    t.ok(reuse.length >= 6, `${name}: every data connection was observed`)
    // ftp-srv upgrades AUTH TLS on a bare TLSSocket that issues no resumable session, so after
    // explicit AUTH TLS the first data connection negotiates afresh and hands out the ticket
    // that every later one resumes. vsftpd (require_ssl_reuse, in 'system daemons') checks
    // the first one too.
    const checked = mode === 'explicit' ? reuse.slice(1) : reuse
    t.ok(
      checked.every((reused) => reused === true),
      `${name}: ${mode === 'explicit' ? 'every data connection after the first' : 'every data connection'} resumed the session`,
    )
  }
})
