/**
 * SFTP through ssh2-sftp-client (connection set-up) and its ssh2 SFTP channel
 * (operations). The channel is used directly because it reports SFTP status
 * codes and file modes, and lets transfers stream with our own flow control.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { posix } from 'node:path'
import { Readable } from 'node:stream'
import type { Logger } from 'pino'
import type { Client, ConnectConfig, SFTPWrapper, Stats } from 'ssh2'
import SftpClient from 'ssh2-sftp-client'
import type { EndpointConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import type { RemoteEntry, RemoteFiles, RemoteOpOptions } from '../../ports/remote-files.js'
import { cancelledError, connectionLost, fileExists, timeoutError, transportError } from './failures.js'
import { CallerFailure, type OperationControl, runOperation } from './operation.js'
import { absolutePath, ancestry, childPath } from './paths.js'
import { type CloseOptions, createConnectionPool, type RemoteFilesOptions } from './pool.js'

interface SftpConnection {
  readonly client: SftpClient
  readonly sftp: SFTPWrapper
  alive: boolean
}

/** ssh2-sftp-client keeps its ssh2 Client here; its typings do not say so. */
const sshClientOf = (client: SftpClient): Client => (client as unknown as { client: Client }).client

const SFTP_STATUS = { NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, NO_CONNECTION: 6, CONNECTION_LOST: 7 } as const
const READ_CHUNK = 256 * 1024
const WRITES_IN_FLIGHT = 4
/** The largest write sent (the server's limit may be lower), and the bytes kept in flight. */
const WRITE_CHUNK = 256 * 1024
const WRITE_AHEAD = 1024 * 1024
const S_IFMT = 0o170000

/** "SHA256:<base64>" as ssh-keygen -l prints it, or bare base64 with or without padding. */
export function parseHostKeyPin(pin: string): Buffer {
  const digest = Buffer.from(pin.trim().replace(/^SHA256:/i, ''), 'base64')
  if (digest.length !== 32) {
    throw new BridgeError('CONFIG_INVALID', `hostKeySha256 is not a SHA-256 fingerprint: ${pin}`)
  }
  return digest
}

export function fingerprintOf(hostKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`
}

function call<T>(start: (done: (error: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      start((error, value) => (error ? reject(error) : resolve(value)))
    } catch (error) {
      reject(error)
    }
  })
}

function sftpError(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error
  const transport = transportError(error)
  if (transport) return transport
  const message = error instanceof Error ? error.message : String(error)
  switch ((error as { code?: unknown }).code) {
    case SFTP_STATUS.NO_SUCH_FILE:
      return new BridgeError('REMOTE_NOT_FOUND', message, { cause: error })
    case SFTP_STATUS.PERMISSION_DENIED:
      return new BridgeError('REMOTE_PERMISSION_DENIED', message, { cause: error })
    case SFTP_STATUS.NO_CONNECTION:
    case SFTP_STATUS.CONNECTION_LOST:
      return connectionLost(message, error)
  }
  if (/no response from server|not connected|channel (is )?(not open|closed)|not writable/i.test(message)) {
    return connectionLost(message, error)
  }
  return new BridgeError('REMOTE_IO', message, { cause: error })
}

function entryFromAttrs(path: string, attrs: Stats): RemoteEntry {
  const format = attrs.mode & S_IFMT
  return {
    path,
    name: path === '/' ? '/' : posix.basename(path),
    type: format === 0o040000 ? 'directory' : format === 0o100000 ? 'file' : 'other',
    size: attrs.size,
    modifiedAt: attrs.mtime * 1000,
  }
}

/** Bytes requested ahead of the consumer: the whole window is in flight at once. */
const READ_AHEAD = 1024 * 1024

interface ReadRequest {
  offset: number
  length: number
  data: Promise<Buffer>
}

/**
 * Streams a remote file with several reads in flight. One read at a time
 * waits a round trip per chunk (OpenSSH answers at most 255 KiB a read, the
 * in-process server 32 KiB), which held a 2 GiB download to ~20 MiB/s; reads
 * are issued ahead up to READ_AHEAD bytes and delivered in order. The window
 * opens gradually (1, 2, 4, … reads) so a small file costs no more requests or
 * memory than before; a short read is completed before anything after it.
 * The handle's size (FSTAT, sent beside the first read) marks the end, which
 * spares the read that would only answer EOF: a round trip per small file.
 */
class SftpReadStream extends Readable {
  bytes = 0
  /** The consumer is waiting for the server (the stall watchdog's "not our fault" test). */
  reading = false
  private readonly chunk: number
  private readonly maxDepth: number
  private depth = 1
  private nextOffset = 0
  private ended = false
  /** From FSTAT, once it answered; undefined: read until a read answers EOF. */
  private size: number | undefined
  private readonly queue: ReadRequest[] = []

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly handle: Buffer,
    private readonly onFailure: (error: unknown) => BridgeError,
  ) {
    super({ highWaterMark: READ_CHUNK })
    // ssh2 splits a read longer than the server's limit into sequential requests; stay within it.
    const limit = (sftp as unknown as { _maxReadLen?: number })._maxReadLen
    this.chunk = limit && limit > 0 ? Math.min(READ_CHUNK, limit) : READ_CHUNK
    this.maxDepth = Math.max(1, Math.floor(READ_AHEAD / this.chunk))
    call<Stats>((done) => sftp.fstat(handle, done)).then(
      (stats) => {
        if (Number.isSafeInteger(stats.size) && stats.size >= 0) this.size = stats.size
      },
      // A server without FSTAT: the end is where a read answers EOF.
      () => undefined,
    )
  }

  private request(offset: number, length: number): ReadRequest {
    const buffer = Buffer.allocUnsafe(length)
    const data = call<number>((done) => this.sftp.read(this.handle, buffer, 0, length, offset, done)).then(
      (bytesRead) => buffer.subarray(0, bytesRead),
    )
    // Reads past the end, or still running when the stream is destroyed, are never awaited.
    data.catch(() => undefined)
    return { offset, length, data }
  }

  private fill(): void {
    while (!this.ended && this.queue.length < this.depth) {
      const left = this.size === undefined ? this.chunk : this.size - this.nextOffset
      if (left <= 0) break
      const length = Math.min(this.chunk, left)
      this.queue.push(this.request(this.nextOffset, length))
      this.nextOffset += length
    }
  }

  private finish(): void {
    this.ended = true
    this.queue.length = 0
    this.push(null)
  }

  override _read(): void {
    if (this.size !== undefined && this.bytes >= this.size) {
      this.finish()
      return
    }
    this.fill()
    const head = this.queue[0]
    if (!head) {
      this.finish()
      return
    }
    this.reading = true
    head.data.then(
      (data) => {
        this.reading = false
        if (this.destroyed || this.queue[0] !== head) return
        this.queue.shift()
        if (data.length === 0) {
          // End of file: whatever was requested beyond it is empty too.
          this.finish()
          return
        }
        const end = head.offset + data.length
        if (data.length < head.length && (this.size === undefined || end < this.size)) {
          // A short read: its remainder comes next, ahead of the reads already issued after it.
          this.queue.unshift(this.request(end, head.length - data.length))
        } else if (this.depth < this.maxDepth) {
          this.depth = Math.min(this.maxDepth, this.depth * 2)
        }
        this.bytes += data.length
        this.push(data)
      },
      (error: unknown) => {
        this.reading = false
        this.destroy(this.onFailure(error))
      },
    )
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.queue.length = 0
    // Not awaited: on a dead channel CLOSE is never answered, and on a live one it is sent
    // before anything else this connection does next.
    call<undefined>((done) =>
      this.sftp.close(this.handle, (closeError) => done(closeError, undefined)),
    ).catch(() => undefined)
    callback(error)
  }
}

export function createSftpRemoteFiles(
  endpoint: EndpointConfig,
  baseLogger: Logger,
  options: RemoteFilesOptions = {},
): RemoteFiles {
  const logger = baseLogger.child({ endpoint: endpoint.name, protocol: 'sftp' })
  const pin = endpoint.hostKeySha256 ? parseHostKeyPin(endpoint.hostKeySha256) : undefined
  if (!pin && endpoint.insecureSkipHostKeyCheck) {
    logger.warn('host key verification is disabled for this endpoint (insecureSkipHostKeyCheck)')
  }

  async function connect(signal: AbortSignal | undefined): Promise<SftpConnection> {
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
      hostVerifier: (key: Buffer) => {
        presented = fingerprintOf(key)
        const accepted = pin
          ? timingSafeEqual(createHash('sha256').update(key).digest(), pin)
          : endpoint.insecureSkipHostKeyCheck
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
      const sftp = await client.connect(config)
      // Requests are small packets sent one after another (OPEN, READ, CLOSE, the next OPEN):
      // with Nagle's algorithm one of them waits for the server's delayed ACK, 40 ms on Linux,
      // which was the 95th percentile of a 100 KiB file's read.
      sshClientOf(client).setNoDelay(true)
      connection = { client, sftp, alive: true }
      logger.debug('sftp connection opened')
      return connection
    } catch (error) {
      sshClientOf(client).destroy()
      throw connectFailure(stopped, hostKeyRejected, presented, rawError ?? error)
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  function connectFailure(
    stopped: BridgeError | undefined,
    hostKeyRejected: boolean,
    presented: string | undefined,
    error: unknown,
  ): BridgeError {
    if (stopped) return stopped
    if (hostKeyRejected && pin) {
      return new BridgeError(
        'HOST_KEY_MISMATCH',
        `host key of ${endpoint.name} is ${presented}, expected ${endpoint.hostKeySha256}`,
        { details: { presented, expected: endpoint.hostKeySha256 } },
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

  const pool = createConnectionPool<SftpConnection>({
    name: endpoint.name,
    maxConnections: endpoint.maxConnections,
    ...(options.slots ? { slots: options.slots } : {}),
    idleCloseMs: endpoint.idleCloseMs,
    keepaliveIntervalMs: endpoint.keepaliveIntervalMs,
    create: connect,
    isAlive: (conn) => conn.alive,
    destroy: async (conn) => {
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
    },
    logger,
  })

  function run<T>(
    name: string,
    options: RemoteOpOptions | undefined,
    body: (conn: SftpConnection, control: OperationControl) => Promise<T>,
  ): Promise<T> {
    return runOperation(
      {
        pool,
        name: `${name} on ${endpoint.name}`,
        signal: options?.signal,
        timeoutMs: endpoint.operationTimeoutMs,
        kill: (conn) => {
          conn.alive = false
          sshClientOf(conn.client).destroy()
        },
        toError: sftpError,
        logger,
      },
      body,
    )
  }

  /** null when nothing is there; `lstat` does not follow a symlink (a dangling link still occupies the name). */
  const statOrNull = async (
    sftp: SFTPWrapper,
    path: string,
    how: 'stat' | 'lstat' = 'stat',
  ): Promise<Stats | null> => {
    try {
      return await call<Stats>((done) => sftp[how](path, done))
    } catch (error) {
      if ((error as { code?: unknown }).code === SFTP_STATUS.NO_SUCH_FILE) return null
      throw error
    }
  }
  const lstatOrNull = (sftp: SFTPWrapper, path: string) => statOrNull(sftp, path, 'lstat')

  return {
    endpoint: endpoint.name,

    list(dir, options) {
      const path = absolutePath(dir)
      return run(`list ${path}`, options, async ({ sftp }) => {
        const items = await call<{ filename: string; attrs: Stats }[]>((done) => sftp.readdir(path, done))
        return items
          .filter((item) => item.filename !== '.' && item.filename !== '..')
          .map((item) => entryFromAttrs(childPath(path, item.filename), item.attrs))
      })
    },

    stat(target, options) {
      const path = absolutePath(target)
      return run(`stat ${path}`, options, async ({ sftp }) => {
        const attrs = await statOrNull(sftp, path)
        return attrs ? entryFromAttrs(path, attrs) : null
      })
    },

    read(target, consume, options) {
      const path = absolutePath(target)
      return run(`read ${path}`, options, async ({ sftp }, control) => {
        const handle = await call<Buffer>((done) => sftp.open(path, 'r', done))
        const stream = new SftpReadStream(sftp, handle, (error) => {
          const failure = sftpError(error)
          control.fail(failure)
          return failure
        })
        control.commit()
        control.watch(() => ({ bytes: stream.bytes, waitingOnLocal: !stream.reading }))
        const consumed = consume(stream)
        control.hold(consumed)
        try {
          return await consumed
        } catch (error) {
          throw new CallerFailure(error)
        } finally {
          // A consumer that stopped early leaves the handle open; destroying closes it.
          if (!stream.destroyed) stream.destroy()
        }
      })
    },

    write(target, source, options) {
      const path = absolutePath(target)
      return run(`write ${path}`, options, async ({ sftp }, control) => {
        const handle = await call<Buffer>((done) => sftp.open(path, 'w', done))
        control.commit()
        let acknowledged = 0
        const inFlight = new Set<Promise<void>>()
        let sourceDone = false
        control.watch(() => ({ bytes: acknowledged, waitingOnLocal: !sourceDone && inFlight.size === 0 }))
        let writeError: unknown
        const chunks = source[Symbol.asyncIterator]()
        let position = 0
        // The source's pieces (an HTTP body's are 16–64 KiB) are gathered into writes as large
        // as the server takes, several in flight: four 64 KiB writes at a time held a 2 GiB
        // upload to ~58 MiB/s.
        const limit = (sftp as unknown as { _maxWriteLen?: number })._maxWriteLen
        const writeSize = limit && limit > 0 ? Math.min(WRITE_CHUNK, limit) : WRITE_CHUNK
        const maxInFlight = Math.max(WRITES_IN_FLIGHT, Math.floor(WRITE_AHEAD / writeSize))
        let gathered: Buffer[] = []
        let gatheredBytes = 0
        const send = async (data: Buffer) => {
          const at = position
          position += data.length
          const write = call<undefined>((done) =>
            sftp.write(handle, data, 0, data.length, at, (error) => done(error, undefined)),
          ).then(
            () => {
              acknowledged += data.length
              inFlight.delete(write)
            },
            (error: unknown) => {
              writeError ??= error
              inFlight.delete(write)
            },
          )
          inFlight.add(write)
          if (inFlight.size >= maxInFlight) await Promise.race(inFlight)
          if (writeError) throw writeError
        }
        try {
          for (;;) {
            let next: IteratorResult<unknown>
            try {
              next = await chunks.next()
            } catch (error) {
              throw new CallerFailure(error)
            }
            if (next.done) {
              sourceDone = true
              break
            }
            const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as string)
            if (chunk.length === 0) continue
            gathered.push(chunk)
            gatheredBytes += chunk.length
            if (gatheredBytes < writeSize) continue
            let all = gathered.length === 1 ? chunk : Buffer.concat(gathered, gatheredBytes)
            while (all.length >= writeSize) {
              await send(all.subarray(0, writeSize))
              all = all.subarray(writeSize)
            }
            gathered = all.length > 0 ? [all] : []
            gatheredBytes = all.length
          }
          if (gatheredBytes > 0) await send(Buffer.concat(gathered, gatheredBytes))
          await Promise.all(inFlight)
          if (writeError) throw writeError
        } catch (error) {
          sourceDone = true
          await chunks.return?.()
          await Promise.all(inFlight)
          // Not awaited: on a dead channel CLOSE is never answered.
          call<undefined>((done) => sftp.close(handle, (closeError) => done(closeError, undefined))).catch(
            () => undefined,
          )
          throw error
        }
        await call<undefined>((done) => sftp.close(handle, (error) => done(error, undefined)))
        return { bytes: acknowledged }
      })
    },

    rename(fromPath, toPath, options) {
      const from = absolutePath(fromPath)
      const to = absolutePath(toPath)
      if (!endpoint.supportsRename) return Promise.reject(renameUnsupported(endpoint.name))
      return run(`rename ${from}`, options, async ({ sftp }, control) => {
        control.commit()
        const plainRename = () =>
          call<undefined>((done) => sftp.rename(from, to, (error) => done(error, undefined)))
        if (options?.overwrite) {
          if (offersPosixRename(sftp)) {
            // rename(2) on the server: the target is replaced in one step, never absent.
            await call<undefined>((done) =>
              sftp.ext_openssh_rename(from, to, (error) => done(error, undefined)),
            )
            return
          }
          // Plain SFTP rename refuses an existing target (draft-02 §6.5), so it goes first.
          // Between the delete and the rename `to` does not exist; a reader listing the
          // directory in that window sees neither version. `from` is checked first so a
          // missing source never costs the existing target.
          if (!(await lstatOrNull(sftp, from))) {
            throw new BridgeError('REMOTE_NOT_FOUND', `no such file: ${from}`)
          }
          if (await lstatOrNull(sftp, to)) {
            await call<undefined>((done) => sftp.unlink(to, (error) => done(error, undefined))).catch(
              (error: unknown) => {
                if ((error as { code?: unknown }).code !== SFTP_STATUS.NO_SUCH_FILE) throw error
              },
            )
          }
          await plainRename()
          return
        }
        // Servers differ (OpenSSH refuses, others replace), so the check is ours.
        if (await lstatOrNull(sftp, to)) throw fileExists(to)
        try {
          await plainRename()
        } catch (error) {
          // A target created since the check: OpenSSH answers a bare FAILURE for it.
          if (
            (error as { code?: unknown }).code !== SFTP_STATUS.NO_SUCH_FILE &&
            (await lstatOrNull(sftp, to))
          ) {
            throw fileExists(to)
          }
          throw error
        }
      })
    },

    delete(target, options) {
      const path = absolutePath(target)
      return run(`delete ${path}`, options, async ({ sftp }, control) => {
        control.commit()
        try {
          await call<undefined>((done) => sftp.unlink(path, (error) => done(error, undefined)))
        } catch (error) {
          if ((error as { code?: unknown }).code === SFTP_STATUS.NO_SUCH_FILE) throw error
          const attrs = await statOrNull(sftp, path)
          if (!attrs || (attrs.mode & S_IFMT) !== 0o040000) throw error
          await call<undefined>((done) => sftp.rmdir(path, (rmdirError) => done(rmdirError, undefined)))
        }
      })
    },

    mkdirp(dir, options) {
      const path = absolutePath(dir)
      return run(`mkdirp ${path}`, options, async ({ sftp }) => {
        const target = await statOrNull(sftp, path)
        if (target && (target.mode & S_IFMT) === 0o040000) return
        for (const step of ancestry(path)) {
          const existing = await statOrNull(sftp, step)
          if (existing && (existing.mode & S_IFMT) === 0o040000) continue
          if (existing) throw new BridgeError('REMOTE_IO', `${step} exists and is not a directory`)
          try {
            await call<undefined>((done) => sftp.mkdir(step, (error) => done(error, undefined)))
          } catch (error) {
            // Someone else may have created it in the meantime.
            const raced = await statOrNull(sftp, step)
            if (!raced || (raced.mode & S_IFMT) !== 0o040000) throw error
          }
        }
      })
    },

    close: (closeOptions?: CloseOptions) => pool.close(closeOptions),
  }
}

/** The extensions the server listed in its VERSION reply; ssh2 keeps them here, its typings do not say so. */
function offersPosixRename(sftp: SFTPWrapper): boolean {
  const extensions = (sftp as unknown as { _extensions?: Record<string, string> })._extensions
  return extensions?.['posix-rename@openssh.com'] === '1'
}

export function renameUnsupported(name: string): BridgeError {
  return new BridgeError(
    'REMOTE_PERMISSION_DENIED',
    `endpoint ${name} is configured without rename support`,
    {
      details: { reason: 'rename-unsupported' },
    },
  )
}
