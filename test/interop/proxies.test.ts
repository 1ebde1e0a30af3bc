/**
 * SFTP, FTP and explicit FTPS through real proxies: microsocks (SOCKS5 with
 * username/password) and tinyproxy (HTTP CONNECT with BasicAuth), to OpenSSH
 * sshd and vsftpd. A file is written, listed and read back through each
 * proxy; the proxy's own log shows the tunnels it opened — for FTP one to
 * the control port and at least one more to a passive data port, so data
 * connections went through it too. A wrong proxy password is
 * PROXY_AUTH_FAILED, from the adapter and from the endpoint check.
 */
import { createHash, randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pino } from 'pino'
import t from 'tap'
import { checkEndpoint } from '../../src/adapters/remote/check.js'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import type { EndpointConfig } from '../../src/config/schema.js'
import { caPem } from '../../src/sandbox/tls/index.js'
import { skipUnlessDaemon, sshdPath, vsftpdPath } from '../support/daemons.js'
import {
  microsocksPath,
  type RunningProxy,
  startMicrosocks,
  startTinyproxy,
  tinyproxyPath,
} from '../support/proxies.js'
import {
  ensureTestUser,
  localAccount,
  type RunningDaemon,
  startSshd,
  startVsftpd,
} from '../support/real-server-configs.js'
import { endpointConfig, failureCode } from '../support/remote-files-contract.js'

t.setTimeout(240_000)
process.umask(0)

const skip =
  skipUnlessDaemon(sshdPath) ||
  skipUnlessDaemon(vsftpdPath) ||
  skipUnlessDaemon(microsocksPath) ||
  skipUnlessDaemon(tinyproxyPath)

const silent = pino({ level: 'silent' })
const account = localAccount('sdrivebridgeproxy')
const PROXY_USER = 'bridge'
const PROXY_PASSWORD = randomBytes(9).toString('base64url')

type Kind = 'sftp' | 'ftp' | 'ftps'

t.test('through SOCKS5 and HTTP CONNECT proxies', { skip }, async (t) => {
  ensureTestUser(account)
  const cleanup: (() => Promise<void>)[] = []
  t.teardown(async () => {
    for (const close of cleanup.reverse()) await close().catch(() => undefined)
  })
  // ChrootDirectory wants every component root-owned and not group/world-writable; /tmp is not.
  const sshRoot = await mkdtemp(join(homedir(), 'proxy-sshd-'))
  cleanup.push(() => rm(sshRoot, { recursive: true, force: true }))
  await chmod(sshRoot, 0o755)
  await mkdir(join(sshRoot, 'inbox'), { mode: 0o777 })
  await chmod(join(sshRoot, 'inbox'), 0o777)
  const ftpRoot = await mkdtemp(join(tmpdir(), 'proxy-ftp-'))
  const ftpsRoot = await mkdtemp(join(tmpdir(), 'proxy-ftps-'))
  cleanup.push(() => rm(ftpRoot, { recursive: true, force: true }))
  cleanup.push(() => rm(ftpsRoot, { recursive: true, force: true }))

  const servers = new Map<Kind, RunningDaemon>()
  const sshd = await startSshd({
    root: sshRoot,
    user: account.name,
    authorizedKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0ni3bZ8qoNJ2hMMjs1ZpQeQ6XeCGG2OjyA3fp3oYmU unused',
    passwordAuthentication: true,
  })
  cleanup.push(sshd.close)
  servers.set('sftp', sshd)
  const ftp = await startVsftpd({ root: ftpRoot, tls: false })
  cleanup.push(ftp.close)
  servers.set('ftp', ftp)
  const ftps = await startVsftpd({ root: ftpsRoot, tls: 'explicit' })
  cleanup.push(ftps.close)
  servers.set('ftps', ftps)

  const socks = await startMicrosocks(PROXY_USER, PROXY_PASSWORD)
  cleanup.push(socks.close)
  const http = await startTinyproxy(PROXY_USER, PROXY_PASSWORD)
  cleanup.push(http.close)

  const endpointFor = (kind: Kind, proxy: RunningProxy, password = proxy.password): EndpointConfig => {
    const server = servers.get(kind) as RunningDaemon
    return endpointConfig({
      name: `${kind}-via-${proxy.kind}`,
      protocol: kind,
      host: server.host,
      port: server.port,
      username: account.name,
      password: account.password,
      connectTimeoutMs: 20_000,
      operationTimeoutMs: 30_000,
      proxy: { url: proxy.url, username: proxy.username, password, connectTimeoutMs: 20_000 },
      ...(kind === 'sftp' ? { hostKeySha256: sshd.hostKeySha256 } : {}),
      ...(kind === 'ftps' ? { tls: { rejectUnauthorized: true, ca: caPem, maxVersion: 'TLSv1.2' } } : {}),
    })
  }

  for (const proxy of [socks, http]) {
    for (const kind of ['sftp', 'ftp', 'ftps'] as const) {
      await t.test(`${kind} through ${proxy.kind}`, async (t) => {
        const server = servers.get(kind) as RunningDaemon
        const before = (await proxy.targets()).length
        const remote = createRemoteFiles(endpointFor(kind, proxy), silent)
        t.teardown(() => remote.close())
        const dir = kind === 'sftp' ? '/inbox' : '/'
        const name = `${dir === '/' ? '' : dir}/via-${proxy.kind}-${kind}.bin`
        const bytes = randomBytes(3 * 1024 * 1024 + 17)
        const written = await remote.write(name, Readable.from([bytes]))
        t.equal(written.bytes, bytes.length, 'the whole file was written')
        const listed = await remote.list(dir)
        t.ok(
          listed.some(
            (entry) => `${dir === '/' ? '' : dir}/${entry.name}` === name && entry.size === bytes.length,
          ),
          'the listing shows it with its size',
        )
        const back = await remote.read(name, async (stream) => {
          const chunks: Buffer[] = []
          for await (const chunk of stream) chunks.push(chunk as Buffer)
          return Buffer.concat(chunks)
        })
        t.equal(sha256(back), sha256(bytes), 'read back through the proxy, same bytes')
        await remote.delete(name)

        const targets = (await proxy.targets()).slice(before)
        t.ok(targets.includes(server.port), `the proxy opened a tunnel to the server's port ${server.port}`)
        if (kind !== 'sftp') {
          const data = targets.filter((port) => port !== server.port)
          // Write, list and read each open one data connection.
          t.ok(data.length >= 3, `the data connections went through the proxy too (ports ${data.join(', ')})`)
        }

        const report = await checkEndpoint(endpointFor(kind, proxy), [dir], silent)
        t.equal(report.error, undefined, 'the endpoint check passes through the proxy')
        t.ok(report.ok, 'and finds the directory usable')
        t.equal(report.proxy, proxy.url, 'the check names the proxy, without credentials')
      })
    }

    await t.test(`a wrong ${proxy.kind} proxy password is PROXY_AUTH_FAILED`, async (t) => {
      for (const kind of ['sftp', 'ftp', 'ftps'] as const) {
        const endpoint = endpointFor(kind, proxy, 'not-the-password')
        const remote = createRemoteFiles(endpoint, silent)
        t.equal(await failureCode(remote.list('/')), 'PROXY_AUTH_FAILED', `${kind}: the adapter`)
        await remote.close()
        const report = await checkEndpoint(endpoint, ['/'], silent)
        t.equal(report.error?.code, 'PROXY_AUTH_FAILED', `${kind}: the endpoint check`)
        t.notOk(JSON.stringify(report).includes('not-the-password'), 'the report holds no password')
        t.notOk(report.authenticated, 'nothing logged in to the server')
      }
    })
  }
})

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}
