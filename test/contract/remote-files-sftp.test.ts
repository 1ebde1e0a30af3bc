/**
 * The RemoteFiles contract over SFTP: the in-process ssh2 server (password
 * and key login) and OpenSSH sshd when the machine has it, plus the SFTP
 * checks: host key pinning, the sandbox's root, wrong credentials.
 */
import { symlink, writeFile } from 'node:fs/promises'
import { homedir, userInfo } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import type { EndpointConfig } from '../../src/config/schema.js'
import { startFtpServer } from '../../src/sandbox/ftp-server.js'
import { generateSshKeyPair, startSftpServer } from '../../src/sandbox/sftp-server.js'
import { skipUnlessDaemon, sshdPath } from '../support/daemons.js'
import { startSshd } from '../support/real-server-configs.js'
import {
  type ContractTarget,
  collect,
  endpointConfig,
  failureCode,
  runRemoteFilesContract,
  sandboxSftpEndpoint,
} from '../support/remote-files-contract.js'
import { capturingLogger, clientKey, sftpTarget, silent, tempRoot } from '../support/remote-files-targets.js'

// The contract over two targets and the real daemon, with in-process servers on this process's event loop: 30-50 s
// on a busy 2-core machine, too near tap's 120 s per file to leave to the default.
t.setTimeout(10 * 60_000)

for (const target of [
  sftpTarget('SFTP, password', { password: 'alice secret' }),
  sftpTarget('SFTP, private key with passphrase', {
    privateKey: clientKey.private,
    passphrase: 'key passphrase',
  }),
])
  t.test(`contract: ${target.name}`, async (t) => runRemoteFilesContract(t, target))

// The real daemon, when the machine has it; there are no faults to inject into it.

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

t.test('system daemon: OpenSSH sshd', async (t) => {
  const noSshd = skipUnlessDaemon(sshdPath)
  if (noSshd) t.comment(`${noSshd}: contract not run against OpenSSH sshd`)
  else t.test(`contract: ${sshdTarget().name}`, async (t) => runRemoteFilesContract(t, sshdTarget()))
})

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
