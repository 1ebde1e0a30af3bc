/** Opening an SFTP connection: the SSH session, host key pinning, login, and what failed when it did not. */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import type { ConnectConfig } from 'ssh2'
import SftpClient from 'ssh2-sftp-client'
import { hostKeyPins } from '../../config/proxy-schema.js'
import type { EndpointConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import { proxyTarget } from '../../domain/proxy.js'
import { openTunnel } from '../proxy/tunnel.js'
import { cancelledError, connectionLost, timeoutError, transportError } from './failures.js'
import { type SftpConnection, sshClientOf } from './sftp-channel.js'

export interface SftpConnectSettings {
  endpoint: EndpointConfig
  logger: Logger
  /** The pinned host keys' SHA-256 digests (hostKeySha256); empty when none is pinned. */
  pins: Buffer[]
}

/** "SHA256:<base64>" as ssh-keygen -l prints it, or bare base64 with or without padding. */
export function parseHostKeyPin(pin: string): Buffer {
  const digest = Buffer.from(pin.trim().replace(/^SHA256:/i, ''), 'base64')
  if (digest.length !== 32) {
    throw new BridgeError('CONFIG_INVALID', `hostKeySha256 is not a SHA-256 fingerprint: ${pin}`)
  }
  return digest
}

/** hostKeySha256 as configured (one pin or a list) → their digests. */
export function parseHostKeyPins(pins: string | readonly string[] | undefined): Buffer[] {
  return hostKeyPins(pins).map(parseHostKeyPin)
}

/** Whether the key is one of the pins; every pin is compared, so the time taken says nothing of which. */
export function matchesAnyPin(hostKey: Buffer, pins: readonly Buffer[]): boolean {
  const digest = createHash('sha256').update(hostKey).digest()
  return pins.reduce((matched, pin) => timingSafeEqual(digest, pin) || matched, false)
}

/** "SHA256:<base64>" of a pin digest, as ssh-keygen -l prints it. */
export function pinText(pin: Buffer): string {
  return `SHA256:${pin.toString('base64').replace(/=+$/, '')}`
}

/** The per-endpoint SSH algorithm lists in ssh2's shape; undefined keeps ssh2's modern defaults. */
export function sshAlgorithmsOf(endpoint: EndpointConfig): ConnectConfig['algorithms'] {
  const algorithms = endpoint.algorithms
  if (!algorithms) return undefined
  return {
    ...(algorithms.kex ? { kex: [...algorithms.kex] } : {}),
    ...(algorithms.cipher ? { cipher: [...algorithms.cipher] } : {}),
    ...(algorithms.serverHostKey ? { serverHostKey: [...algorithms.serverHostKey] } : {}),
    ...(algorithms.hmac ? { hmac: [...algorithms.hmac] } : {}),
  } as ConnectConfig['algorithms']
}

/** A tunnel through the endpoint's proxy, for ssh2's `sock`; undefined when it has none. */
export async function proxiedSocket(
  endpoint: EndpointConfig,
  port: number,
  signal: AbortSignal | undefined,
): Promise<Socket | undefined> {
  if (!endpoint.proxy) return undefined
  return openTunnel({ proxy: proxyTarget(endpoint.proxy), host: endpoint.host, port, signal })
}

export function fingerprintOf(hostKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`
}

export async function connectSftp(
  settings: SftpConnectSettings,
  signal: AbortSignal | undefined,
): Promise<SftpConnection> {
  const { endpoint, logger, pins } = settings
  let connection: SftpConnection | undefined
  const markDead = () => {
    if (connection) connection.alive = false
  }
  const client = new SftpClient(endpoint.name, { error: markDead, end: markDead, close: markDead })
  let rawError: (Error & { level?: string }) | undefined
  client.on('error', (error: Error) => {
    rawError = error
  })
  client.on('close', markDead)
  let presented: string | undefined
  let hostKeyRejected = false
  const config: ConnectConfig = {
    host: endpoint.host,
    port: endpoint.port ?? 22,
    username: endpoint.username,
    password: endpoint.password,
    privateKey: endpoint.privateKey,
    passphrase: endpoint.passphrase,
    readyTimeout: endpoint.connectTimeoutMs,
    keepaliveInterval: endpoint.keepaliveIntervalMs,
    keepaliveCountMax: 3,
    ...(endpoint.algorithms ? { algorithms: sshAlgorithmsOf(endpoint) } : {}),
    hostVerifier: (key: Buffer) => {
      presented = fingerprintOf(key)
      const accepted = pins.length > 0 ? matchesAnyPin(key, pins) : endpoint.insecureSkipHostKeyCheck
      hostKeyRejected = !accepted
      return accepted
    },
  }

  let timer: NodeJS.Timeout | undefined
  let stopped: BridgeError | undefined
  const stop = (error: BridgeError) => {
    stopped ??= error
    sshClientOf(client).destroy()
  }
  const onAbort = () => stop(cancelledError(signal))
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    if (signal?.aborted) throw cancelledError(signal)
    timer = setTimeout(
      () => stop(timeoutError(`connecting to ${endpoint.name}`, endpoint.connectTimeoutMs)),
      endpoint.connectTimeoutMs,
    )
    const sock = await proxiedSocket(endpoint, endpoint.port ?? 22, signal)
    if (sock) config.sock = sock
    const connecting = client.connect(config)
    sock?.resume()
    const sftp = await connecting
    // Requests are small packets sent one after another (OPEN, READ, CLOSE, the next OPEN):
    // with Nagle's algorithm one of them waits for the server's delayed ACK, 40 ms on Linux,
    // which was the 95th percentile of a 100 KiB file's read.
    sshClientOf(client).setNoDelay(true)
    connection = { client, sftp, alive: true }
    logger.debug('sftp connection opened')
    return connection
  } catch (error) {
    sshClientOf(client).destroy()
    throw connectFailure(settings, stopped, hostKeyRejected, presented, rawError ?? error)
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

function connectFailure(
  settings: SftpConnectSettings,
  stopped: BridgeError | undefined,
  hostKeyRejected: boolean,
  presented: string | undefined,
  error: unknown,
): BridgeError {
  const { endpoint, pins } = settings
  if (stopped) return stopped
  if (error instanceof BridgeError) return error
  if (hostKeyRejected && pins.length > 0) {
    const expected = pins.map(pinText)
    return new BridgeError(
      'HOST_KEY_MISMATCH',
      `host key of ${endpoint.name} is ${presented}, expected ${expected.length === 1 ? expected[0] : `one of ${expected.join(', ')}`}`,
      { details: { presented, expected: expected.length === 1 ? expected[0] : expected } },
    )
  }
  if (hostKeyRejected) {
    return new BridgeError(
      'CONFIG_INVALID',
      `endpoint ${endpoint.name} has no hostKeySha256; refusing an unverified host key (it presented ${presented}). ` +
        'Pin it, or set insecureSkipHostKeyCheck to accept any key.',
      { details: { presented } },
    )
  }
  const level = (error as { level?: unknown }).level
  const message = error instanceof Error ? error.message : String(error)
  if (level === 'client-authentication') {
    return new BridgeError('REMOTE_AUTH_FAILED', `login to ${endpoint.name} failed: ${message}`, {
      cause: error,
    })
  }
  if (level === 'client-timeout')
    return new BridgeError('TIMEOUT', message, { transient: true, cause: error })
  if (/privateKey|passphrase/i.test(message)) {
    return new BridgeError('CONFIG_INVALID', `private key of ${endpoint.name}: ${message}`, {
      cause: error,
    })
  }
  return transportError(error) ?? connectionLost(`connecting to ${endpoint.name}: ${message}`, error)
}

/** Ends the session politely (at most 2 s), then tears the socket down. */
export async function closeSftpConnection(conn: SftpConnection): Promise<void> {
  if (conn.alive) {
    conn.alive = false
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      conn.client.end().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 2000)
      }),
    ])
    clearTimeout(timer)
  }
  sshClientOf(conn.client).destroy()
}
