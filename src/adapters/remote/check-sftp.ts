/** The SFTP half of the endpoint check (see check.ts). */
import ssh2, { type ConnectConfig, type SFTPWrapper, type Stats } from 'ssh2'
import type { EndpointConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import { describeProxy, proxyTarget } from '../../domain/proxy.js'
import type { DirectoryReport, FeatureSummary } from '../../ports/endpoint-check.js'
import {
  type CheckContext,
  describe,
  directoryOk,
  emptyFeatures,
  estimateClock,
  isConnectionLoss,
  isProgrammingError,
  joinPath,
  PROBE_CONTENT,
  type ProbeTimes,
  probeName,
  SFTP_NO_SUCH_FILE,
  SFTP_PERMISSION_DENIED,
  withDeadline,
} from './check-support.js'
import { connectionLost, timeoutError, transportError } from './failures.js'
import { fingerprintOf, parseHostKeyPins } from './sftp.js'
import { matchesAnyPin, pinText, proxiedSocket, sshAlgorithmsOf } from './sftp-connect.js'

const S_IFMT = 0o170000
const S_IFDIR = 0o040000

export function summariseSftpExtensions(extensions: Record<string, string>): FeatureSummary {
  const raw = Object.entries(extensions).map(([name, value]) => ({
    name,
    value: value === '' ? null : value,
  }))
  const summary = emptyFeatures(raw)
  const has = (name: string) => Object.hasOwn(extensions, name)
  summary.posixRename = has('posix-rename@openssh.com')
  summary.statvfs = has('statvfs@openssh.com')
  summary.hardlink = has('hardlink@openssh.com')
  summary.fsync = has('fsync@openssh.com')
  summary.checkFile = has('check-file') || has('check-file-name') || has('check-file-handle')
  return summary
}

/** The key type named at the start of an SSH public key blob (string length + name). */
function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown'
  const length = blob.readUInt32BE(0)
  return length > 0 && length < 64 && blob.length >= 4 + length
    ? blob.subarray(4, 4 + length).toString('latin1')
    : 'unknown'
}

/** ssh2 keeps the server's identification line here; its typings do not say so. */
function remoteIdentification(client: ssh2.Client): string | null {
  const internals = client as unknown as {
    _protocol?: { _remoteIdentRaw?: Buffer }
    _remoteVer?: string
  }
  const raw = internals._protocol?._remoteIdentRaw?.toString('latin1').trim()
  return raw || internals._remoteVer || null
}

function sftpCall<T>(start: (done: (error: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((error, value) => (error ? reject(error) : resolve(value)))
  })
}

function sftpLoginFailure(endpoint: EndpointConfig, error: unknown): BridgeError {
  const level = (error as { level?: unknown }).level
  const message = error instanceof Error ? error.message : String(error)
  if (level === 'client-authentication') {
    return new BridgeError('REMOTE_AUTH_FAILED', `login to ${endpoint.name} failed: ${message}`)
  }
  if (level === 'client-timeout')
    return timeoutError(`connecting to ${endpoint.name}`, endpoint.connectTimeoutMs)
  if (/privateKey|passphrase/i.test(message)) {
    return new BridgeError('CONFIG_INVALID', `private key of ${endpoint.name}: ${message}`)
  }
  return transportError(error) ?? connectionLost(`connecting to ${endpoint.name}: ${message}`, error)
}

/** Fills report.hostKey for the presented key; the refusal when it is not pinned (before any credentials). */
function verifyHostKey(context: CheckContext, pins: Buffer[], key: Buffer): BridgeError | undefined {
  const { endpoint, report } = context
  const fingerprint = fingerprintOf(key)
  const pinTexts = pins.map(pinText)
  const matchesPin = pins.length > 0 ? matchesAnyPin(key, pins) : null
  const matchedPin = matchesPin ? fingerprint : null
  report.hostKey = {
    fingerprint,
    keyType: keyTypeOf(key),
    algorithm: null,
    pinned: matchedPin ?? (pinTexts.length > 0 ? pinTexts.join(', ') : null),
    pins: pinTexts,
    matchedPin,
    matchesPin,
    announced: [],
  }
  if (matchesPin === false) {
    return new BridgeError(
      'HOST_KEY_MISMATCH',
      `host key of ${endpoint.name} is ${fingerprint}, expected ${pinTexts.length === 1 ? pinTexts[0] : `one of ${pinTexts.join(', ')}`}; not logging in`,
    )
  }
  if (matchesPin === null && !endpoint.insecureSkipHostKeyCheck) {
    return new BridgeError(
      'CONFIG_INVALID',
      `endpoint ${endpoint.name} has no hostKeySha256; not logging in to a host key nobody checked. ` +
        `Pin ${fingerprint} if it is the server's, or set insecureSkipHostKeyCheck.`,
    )
  }
  if (matchesPin === null) {
    report.warnings.push('the host key is not pinned (insecureSkipHostKeyCheck): any server is trusted')
  } else if (pins.length > 1) {
    report.warnings.push(
      `host key ${fingerprint} matched pin ${pinTexts.indexOf(fingerprint) + 1} of ${pins.length}; ` +
        'remove the pins the partner no longer uses once the rotation is done',
    )
  }
  return undefined
}

/**
 * The host keys the server announced after login (OpenSSH's hostkeys-00
 * extension, each proven by the server's signature): a key the partner has
 * added but nobody pinned yet is the sign of a rotation coming.
 */
function reportAnnouncedKeys(context: CheckContext, pins: Buffer[], keys: ssh2.ParsedKey[]): void {
  const { report } = context
  for (const key of keys) {
    const blob = key.getPublicSSH()
    const fingerprint = fingerprintOf(blob)
    const pinned = pins.length > 0 && matchesAnyPin(blob, pins)
    report.hostKey?.announced.push({ fingerprint, keyType: key.type, pinned })
    if (!pinned && fingerprint !== report.hostKey?.fingerprint) {
      report.warnings.push(
        `the server also offers host key ${fingerprint} (${key.type}), which is not pinned: ` +
          'add it to hostKeySha256 if the partner is rotating to it',
      )
    } else if (!pinned) {
      report.warnings.push(`the presented host key ${fingerprint} (${key.type}) is not pinned`)
    }
  }
}

export async function checkSftp(context: CheckContext): Promise<void> {
  const { endpoint, report, now } = context
  const pins = parseHostKeyPins(endpoint.hostKeySha256)
  const client = new ssh2.Client()
  let refusal: BridgeError | undefined
  client.on('handshake', (negotiated) => {
    if (report.hostKey) report.hostKey.algorithm = negotiated.serverHostKey
  })
  client.on('banner', (message: string) => {
    report.loginBanner = message.trim() || null
  })
  client.on('hostkeys', (keys) => reportAnnouncedKeys(context, pins, keys))
  const started = now()
  const config: ConnectConfig = {
    host: endpoint.host,
    port: report.port,
    username: endpoint.username,
    password: endpoint.password,
    privateKey: endpoint.privateKey,
    passphrase: endpoint.passphrase,
    readyTimeout: endpoint.connectTimeoutMs,
    ...(endpoint.algorithms ? { algorithms: sshAlgorithmsOf(endpoint) } : {}),
    hostVerifier: (key: Buffer) => {
      report.connected = true
      report.timings.connectMs = now() - started
      report.serverIdentification = remoteIdentification(client)
      refusal = verifyHostKey(context, pins, key)
      return refusal === undefined
    },
  }
  // One lasting listener: ssh2 may emit more than one error, and an unheard one would crash the process.
  const ready = new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve())
    client.on('error', reject)
    client.once('close', () => reject(connectionLost(`${endpoint.name} closed the connection`)))
  })
  try {
    try {
      const sock = await proxiedSocket(endpoint, report.port, undefined)
      if (sock) {
        config.sock = sock
        report.proxy = endpoint.proxy ? describeProxy(proxyTarget(endpoint.proxy)) : null
      }
      client.connect(config)
      config.sock?.resume()
      await withDeadline(ready, endpoint.connectTimeoutMs, `connecting to ${endpoint.name}`, () =>
        client.destroy(),
      )
    } catch (error) {
      throw refusal ?? (error instanceof BridgeError ? error : sftpLoginFailure(endpoint, error))
    }
    report.authenticated = true
    report.timings.loginMs = now() - started - (report.timings.connectMs ?? 0)

    const operation = <T>(what: string, start: (done: (e: Error | undefined | null, v: T) => void) => void) =>
      withDeadline(sftpCall(start), endpoint.operationTimeoutMs, `${what} on ${endpoint.name}`, () =>
        client.destroy(),
      )
    const featuresStarted = now()
    const sftp = await operation<SFTPWrapper>('opening SFTP', (done) => client.sftp(done))
    const extensions = (sftp as unknown as { _extensions?: Record<string, string> })._extensions ?? {}
    report.features = summariseSftpExtensions(extensions)
    report.timings.featuresMs = now() - featuresStarted

    const directoriesStarted = now()
    for (const path of context.directories) {
      const entry = await sftpDirectory(context, path, operation, sftp)
      report.directories.push(entry)
      if (!entry.ok && entry.error && isConnectionLoss(entry.error)) {
        report.error = entry.error
        break
      }
    }
    report.timings.directoriesMs = now() - directoriesStarted
  } finally {
    await endSsh(client)
  }
}

type SftpOperation = <T>(
  what: string,
  start: (done: (error: Error | undefined | null, value: T) => void) => void,
) => Promise<T>

async function sftpDirectory(
  context: CheckContext,
  path: string,
  operation: SftpOperation,
  sftp: SFTPWrapper,
): Promise<DirectoryReport> {
  const { endpoint, report, now } = context
  const entry: DirectoryReport = {
    path,
    exists: false,
    isDirectory: false,
    writable: false,
    canRename: null,
    ok: false,
  }
  try {
    let attrs: Stats | null
    try {
      attrs = await operation<Stats>(`stat ${path}`, (done) => sftp.stat(path, done))
    } catch (error) {
      if ((error as { code?: unknown }).code !== SFTP_NO_SUCH_FILE) throw error
      attrs = null
    }
    entry.exists = attrs !== null
    entry.isDirectory = attrs !== null && (attrs.mode & S_IFMT) === S_IFDIR
    if (!entry.isDirectory) {
      entry.ok = false
      return entry
    }
    let probe = joinPath(path, probeName(now))
    const times: ProbeTimes = { before: now(), after: 0 }
    let handle: Buffer
    try {
      handle = await operation<Buffer>(`create ${probe}`, (done) => sftp.open(probe, 'wx', done))
    } catch (error) {
      if ((error as { code?: unknown }).code !== SFTP_PERMISSION_DENIED) throw error
      entry.error = describe(error)
      return entry
    }
    try {
      await operation<undefined>(`write ${probe}`, (done) =>
        sftp.write(handle, PROBE_CONTENT, 0, PROBE_CONTENT.length, 0, (error) => done(error, undefined)),
      )
    } finally {
      await operation<undefined>(`close ${probe}`, (done) =>
        sftp.close(handle, (error) => done(error, undefined)),
      )
    }
    times.after = now()
    entry.writable = true
    let failure: unknown
    try {
      const written = await operation<Stats>(`stat ${probe}`, (done) => sftp.stat(probe, done))
      report.clock ??= estimateClock(written.mtime * 1000, 1000, times, 'SFTP stat', report)
      if (endpoint.supportsRename) {
        const renamed = `${probe}.renamed`
        try {
          await operation<undefined>(`rename ${probe}`, (done) =>
            sftp.rename(probe, renamed, (error) => done(error, undefined)),
          )
          probe = renamed
          entry.canRename = true
        } catch (error) {
          entry.canRename = false
          entry.error = describe(error)
        }
      }
    } catch (error) {
      failure = error
    }
    const leftover = probe
    try {
      await operation<undefined>(`delete ${leftover}`, (done) =>
        sftp.unlink(leftover, (error) => done(error, undefined)),
      )
    } catch (error) {
      failure ??= error
      entry.writable = false
      entry.error = describe(error)
      entry.error.message = `${entry.error.message} (probe file ${leftover} left behind)`
    }
    if (failure !== undefined) throw failure
  } catch (error) {
    if (isProgrammingError(error)) throw error
    entry.error = describe(error)
  }
  entry.ok = directoryOk(entry)
  return entry
}

async function endSsh(client: ssh2.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const closed = new Promise<void>((resolve) => {
    client.once('close', () => resolve())
    timer = setTimeout(resolve, 2000)
  })
  try {
    client.end()
  } catch {
    // Never connected: nothing to end.
  }
  await closed
  clearTimeout(timer)
  client.destroy()
}
