/**
 * The RemoteFiles contract over the in-process FTP server: plain FTP, explicit
 * FTPS over TLS 1.2 and 1.3, implicit FTPS; plus FTPS certificate trust and
 * TLS session resumption on data connections.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import type { EndpointConfig } from '../../src/config/schema.js'
import { startFtpServer } from '../../src/sandbox/ftp-server.js'
import { caPem } from '../../src/sandbox/tls/index.js'
import {
  collect,
  endpointConfig,
  failureCode,
  runRemoteFilesContract,
} from '../support/remote-files-contract.js'
import { capturingLogger, ftpTarget, silent, tempRoot } from '../support/remote-files-targets.js'

// The contract over four targets, with in-process servers on this process's event loop: 30-50 s
// on a busy 2-core machine, too near tap's 120 s per file to leave to the default.
t.setTimeout(10 * 60_000)

for (const target of [
  ftpTarget('FTP', false),
  ftpTarget('FTPS explicit, TLS 1.2', 'explicit', {
    tls: { rejectUnauthorized: true, ca: caPem, maxVersion: 'TLSv1.2' },
  }),
  ftpTarget('FTPS explicit, TLS 1.3', 'explicit', {
    tls: { rejectUnauthorized: true, ca: caPem, minVersion: 'TLSv1.3' },
  }),
  ftpTarget('FTPS implicit', 'implicit'),
])
  t.test(`contract: ${target.name}`, async (t) => runRemoteFilesContract(t, target))

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
