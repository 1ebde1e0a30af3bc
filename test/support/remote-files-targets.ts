/**
 * The in-process server targets of the RemoteFiles contract and the helpers
 * the protocol-specific checks share; the contract files under test/contract
 * (one per server family, so tap runs them in parallel) use them.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import type { Test } from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import type { EndpointConfig } from '../../src/config/schema.js'
import { startFtpServer } from '../../src/sandbox/ftp-server.js'
import { generateSshKeyPair, startSftpServer } from '../../src/sandbox/sftp-server.js'
import { caPem } from '../../src/sandbox/tls/index.js'
import { type ContractServer, type ContractTarget, endpointConfig } from './remote-files-contract.js'

export const silent = pino({ level: 'silent' })

/** A logger whose JSON lines the test can read back. */
export function capturingLogger() {
  const lines: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line))
      callback()
    },
  })
  return { logger: pino({ level: 'debug' }, sink), lines }
}

export const clientKey = generateSshKeyPair({
  passphrase: 'key passphrase',
  cipher: 'aes256-ctr',
  rounds: 4,
})

export function sftpTarget(name: string, auth: Partial<EndpointConfig>): ContractTarget {
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

export function ftpTarget(
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

/** A temp dir removed with the test. */
export async function tempRoot(t: Test): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'remote-specific-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  return root
}
