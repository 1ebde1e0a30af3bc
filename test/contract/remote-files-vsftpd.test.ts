/**
 * The RemoteFiles contract against vsftpd, when the machine has it (`.ci/run`
 * installs it): FTP, explicit FTPS over TLS 1.2 and 1.3, implicit FTPS. There
 * are no faults to inject into a real daemon.
 */
import t from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import type { EndpointConfig } from '../../src/config/schema.js'
import { caPem } from '../../src/sandbox/tls/index.js'
import { skipUnlessDaemon, vsftpdPath } from '../support/daemons.js'
import { ensureTestUser, startVsftpd, testUser } from '../support/real-server-configs.js'
import {
  type ContractTarget,
  endpointConfig,
  runRemoteFilesContract,
} from '../support/remote-files-contract.js'
import { silent } from '../support/remote-files-targets.js'

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

t.test('system daemons: vsftpd', async (t) => {
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
