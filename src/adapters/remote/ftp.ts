/**
 * FTP, explicit FTPS (AUTH TLS) and implicit FTPS through basic-ftp: binary
 * mode, passive data connections, MLSD listings where the server offers them
 * (basic-ftp asks FEAT) and LIST otherwise.
 *
 * basic-ftp resumes the control connection's TLS session on every data
 * connection (vsftpd's require_ssl_reuse insists on it);
 * `observeTlsDataConnections` logs whether each data connection really did.
 */
import { PassThrough, type Readable, Transform, Writable } from 'node:stream'
import type { ConnectionOptions, TLSSocket } from 'node:tls'
import { Client, type FileInfo, FTPError } from 'basic-ftp'
import type { Logger } from 'pino'
import type { EndpointConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import type { RemoteEntry, RemoteFiles, RemoteOpOptions } from '../../ports/remote-files.js'
import { cancelledError, connectionLost, fileExists, timeoutError, transportError } from './failures.js'
import { parseListDate } from './list-dates.js'
import { parseListKeepingLineBreaks } from './list-lines.js'
import { CallerFailure, type OperationControl, runOperation } from './operation.js'
import { absolutePath, ancestry, childPath } from './paths.js'
import { type CloseOptions, createConnectionPool, type RemoteFilesOptions } from './pool.js'
import { renameUnsupported } from './sftp.js'

const GATE_HIGH_WATER = 256 * 1024

export function ftpError(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error
  const transport = transportError(error)
  if (transport) return transport
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof FTPError) {
    if (error.code === 530) return new BridgeError('REMOTE_AUTH_FAILED', message, { cause: error })
    if (error.code === 421 || error.code === 425 || error.code === 426) return connectionLost(message, error)
    if (/ENOENT|no such file|not found|does not exist/i.test(message)) {
      return new BridgeError('REMOTE_NOT_FOUND', message, { cause: error })
    }
    if (/EACCES|EPERM|permission|denied/i.test(message) || error.code === 553) {
      return new BridgeError('REMOTE_PERMISSION_DENIED', message, { cause: error })
    }
    if (error.code === 550) return new BridgeError('REMOTE_NOT_FOUND', message, { cause: error })
    return new BridgeError('REMOTE_IO', message, { cause: error })
  }
  if (/timeout/i.test(message)) return new BridgeError('TIMEOUT', message, { transient: true, cause: error })
  if (/closed|FIN packet|not connected|socket hang up/i.test(message)) return connectionLost(message, error)
  return new BridgeError('REMOTE_IO', message, { cause: error })
}

function isReply(error: unknown, ...codes: number[]): boolean {
  return error instanceof FTPError && (codes.length === 0 || codes.includes(error.code))
}

function entryFromInfo(dir: string, info: FileInfo, now: number): RemoteEntry {
  return {
    path: childPath(dir, info.name),
    name: info.name,
    type: info.isDirectory ? 'directory' : info.isFile ? 'file' : 'other',
    size: info.size,
    modifiedAt: info.modifiedAt?.getTime() ?? parseListDate(info.rawModifiedAt, now) ?? 0,
  }
}

interface StatSupport {
  mlst: boolean
  size: boolean
  /** SIZE answers for a directory too, so a SIZE answer alone does not mean a file. */
  sizeOfDirectories: boolean
}

/** `YYYYMMDDHHMMSS[.sss]` (UTC), as MDTM and MLST facts give it; undefined for anything else. */
export function parseFactTime(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(text)
  if (!m) return undefined
  const n = (i: number) => Number(m[i])
  return Date.UTC(n(1), n(2) - 1, n(3), n(4), n(5), n(6), Number((m[7] ?? '0').padEnd(3, '0')))
}

/**
 * The entry of an MLST reply (RFC 3659 §7): `250-…`, one line of facts, a space
 * and the path, `250 End`. Undefined when no such line is there.
 */
export function parseMlstReply(path: string, name: string, message: string): RemoteEntry | undefined {
  for (const line of message.split(/\r?\n/)) {
    if (!line.startsWith(' ')) continue
    const text = line.slice(1)
    const space = text.indexOf(' ')
    const factText = space === -1 ? text : text.slice(0, space)
    if (!factText.includes('=')) continue
    const facts = new Map<string, string>()
    for (const fact of factText.split(';')) {
      const eq = fact.indexOf('=')
      if (eq > 0) facts.set(fact.slice(0, eq).toLowerCase(), fact.slice(eq + 1))
    }
    const type = facts.get('type')?.toLowerCase()
    const kind =
      type === 'file' ? 'file' : type === 'dir' || type === 'cdir' || type === 'pdir' ? 'directory' : 'other'
    const size = Number(facts.get('size') ?? facts.get('sizd') ?? 0)
    return {
      path,
      name,
      type: kind,
      size: Number.isSafeInteger(size) ? size : 0,
      modifiedAt: parseFactTime(facts.get('modify') ?? '') ?? 0,
    }
  }
  return undefined
}

/**
 * Between the data connection and the consumer. FTP signals a complete
 * transfer only on the control connection (226), and a dropped server looks
 * like a clean end of the data stream, so the consumer sees the end only
 * after the reply confirmed it, and an error otherwise.
 */
class DownloadGate {
  readonly readable = new PassThrough({ highWaterMark: GATE_HIGH_WATER })
  bytes = 0
  onFirstChunk: () => void = () => {}
  readonly sink = new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      if (this.bytes === 0) this.onFirstChunk()
      this.bytes += chunk.length
      if (this.readable.destroyed) {
        callback(new Error('the consumer closed the stream'))
        return
      }
      if (this.readable.write(chunk)) {
        callback()
        return
      }
      const resume = () => {
        this.readable.off('drain', resume)
        this.readable.off('close', resume)
        callback()
      }
      this.readable.on('drain', resume)
      this.readable.on('close', resume)
    },
    final: (callback) => callback(),
  })

  finish(): void {
    this.readable.end()
  }

  fail(error: BridgeError): void {
    this.readable.destroy(error)
  }
}

export function createFtpRemoteFiles(
  endpoint: EndpointConfig,
  baseLogger: Logger,
  options: RemoteFilesOptions = {},
): RemoteFiles {
  const logger = baseLogger.child({ endpoint: endpoint.name, protocol: endpoint.protocol })
  const secure = endpoint.protocol === 'ftp' ? false : endpoint.protocol === 'ftps' ? true : 'implicit'
  const port = endpoint.port ?? (secure === 'implicit' ? 990 : 21)
  const tls = endpoint.tls ?? { rejectUnauthorized: true }
  const secureOptions: ConnectionOptions = {
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.minVersion ? { minVersion: tls.minVersion } : {}),
    ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
  }

  /** Settles once the current TLS data connection finished its handshake (or closed). */
  const dataHandshakes = new WeakMap<Client, Promise<void>>()

  function observeTlsDataConnections(client: Client): void {
    let strategy = client.prepareTransfer
    // basic-ftp swaps in the first strategy that works, so wrap whatever it installs.
    Object.defineProperty(client, 'prepareTransfer', {
      configurable: true,
      get: () => async (ftp: Client['ftp']) => {
        const reply = await strategy(ftp)
        const socket = ftp.dataSocket as TLSSocket | undefined
        if (socket && typeof socket.isSessionReused === 'function') {
          const handshake = new Promise<void>((resolve) => {
            socket.once('close', () => resolve())
            socket.once('secureConnect', () => {
              resolve()
              const reused = socket.isSessionReused()
              if (reused)
                logger.debug({ tlsSessionReused: true }, 'FTPS data connection resumed the TLS session')
              else
                logger.warn(
                  { tlsSessionReused: false },
                  'FTPS data connection did not resume the TLS session',
                )
            })
          })
          dataHandshakes.set(client, handshake)
        }
        return reply
      },
      set: (next: Client['prepareTransfer']) => {
        strategy = next
      },
    })
  }

  async function connect(signal: AbortSignal | undefined): Promise<Client> {
    const client = new Client(endpoint.operationTimeoutMs)
    client.ftp.encoding = endpoint.fileNameEncoding ?? 'utf8'
    const parseList = client.parseList
    client.parseList = (rawList) => parseListKeepingLineBreaks(rawList, parseList)
    if (secure) observeTlsDataConnections(client)
    let stopped: BridgeError | undefined
    const stop = (error: BridgeError) => {
      stopped ??= error
      client.close()
    }
    const onAbort = () => stop(cancelledError(signal))
    signal?.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(
      () => stop(timeoutError(`connecting to ${endpoint.name}`, endpoint.connectTimeoutMs)),
      endpoint.connectTimeoutMs,
    )
    try {
      if (signal?.aborted) throw cancelledError(signal)
      await client.access({
        host: endpoint.host,
        port,
        user: endpoint.username,
        password: endpoint.password ?? '',
        secure,
        secureOptions: { ...secureOptions },
      })
      logger.debug('ftp connection opened')
      return client
    } catch (error) {
      client.close()
      if (stopped) throw stopped
      const mapped = ftpError(error)
      if (mapped.code === 'REMOTE_AUTH_FAILED') {
        throw new BridgeError('REMOTE_AUTH_FAILED', `login to ${endpoint.name} failed: ${mapped.message}`, {
          cause: error,
        })
      }
      throw mapped
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  const pool = createConnectionPool<Client>({
    name: endpoint.name,
    maxConnections: endpoint.maxConnections,
    ...(options.slots ? { slots: options.slots } : {}),
    idleCloseMs: endpoint.idleCloseMs,
    keepaliveIntervalMs: endpoint.keepaliveIntervalMs,
    create: connect,
    isAlive: (client) => !client.closed,
    destroy: async (client) => client.close(),
    ping: async (client) => {
      await client.send('NOOP')
    },
    logger,
  })

  function run<T>(
    name: string,
    options: RemoteOpOptions | undefined,
    body: (client: Client, control: OperationControl) => Promise<T>,
  ): Promise<T> {
    return runOperation(
      {
        pool,
        name: `${name} on ${endpoint.name}`,
        signal: options?.signal,
        timeoutMs: endpoint.operationTimeoutMs,
        kill: (client) => client.close(),
        toError: ftpError,
        logger,
      },
      body,
    )
  }

  /** Lists `dir` through CWD: some servers answer LIST of a missing path with an empty listing. */
  async function listDir(client: Client, dir: string): Promise<RemoteEntry[] | null> {
    try {
      await client.cd(dir)
    } catch (error) {
      if (isReply(error, 550, 450, 451, 553)) return null
      throw error
    }
    const now = Date.now()
    const infos = await client.list()
    return infos
      .filter((info) => info.name !== '.' && info.name !== '..')
      .map((info) => entryFromInfo(dir, info, now))
  }

  /** Whether anything is there under that name. */
  async function exists(client: Client, path: string): Promise<boolean> {
    return (await statEntry(client, path, false)) !== null
  }

  /** What the server offers for looking at one path, asked once per connection. */
  const statSupport = new WeakMap<Client, StatSupport>()

  async function statSupportOf(client: Client): Promise<StatSupport> {
    let support = statSupport.get(client)
    if (!support) {
      const features = await client.features()
      const mlst = features.has('MLST')
      const size = features.has('SIZE')
      // vsftpd and ProFTPD answer SIZE for regular files only; ftp-srv also for directories.
      const sizeOfDirectories = size && !mlst && (await client.sendIgnoringError('SIZE /')).code === 213
      support = { mlst, size, sizeOfDirectories }
      statSupport.set(client, support)
    }
    return support
  }

  /** CWD as a test, without an exception for the usual "no": one round trip. */
  async function isDirectoryReply(client: Client, path: string): Promise<boolean> {
    return (await client.sendIgnoringError(`CWD ${path}`)).code < 300
  }

  /**
   * One path, without listing its folder: a listing grows with the folder, so a
   * stat per file of a 1,000-file drop read 500,000 listing lines. MLST where the
   * server offers it (pure-ftpd, ProFTPD), else SIZE and MDTM (vsftpd, ftp-srv),
   * with CWD telling a directory from a missing path; the parent's listing only
   * for servers with neither.
   */
  async function statEntry(client: Client, path: string, withTime = true): Promise<RemoteEntry | null> {
    if (path === '/') return { path, name: '/', type: 'directory', size: 0, modifiedAt: 0 }
    const name = path.slice(path.lastIndexOf('/') + 1)
    const support = await statSupportOf(client)
    // A line break would end the command early; such a name is looked up in the listing.
    const plain = !/[\r\n]/.test(path)
    if (plain && support.mlst) {
      const reply = await client.sendIgnoringError(`MLST ${path}`)
      if (reply.code === 250) {
        const entry = parseMlstReply(path, name, reply.message)
        if (entry) return entry
      } else if (reply.code === 550 || reply.code === 450) {
        return null
      }
    } else if (plain && support.size) {
      const reply = await client.sendIgnoringError(`SIZE ${path}`)
      const size = reply.code === 213 ? Number.parseInt(reply.message.slice(4), 10) : Number.NaN
      const missing = reply.code === 550 || reply.code === 450
      if (Number.isSafeInteger(size) || missing) {
        const directory = (missing || support.sizeOfDirectories) && (await isDirectoryReply(client, path))
        if (directory || !missing) {
          return {
            path,
            name,
            type: directory ? 'directory' : 'file',
            size: directory ? 0 : size,
            modifiedAt: withTime ? await modifiedAt(client, path) : 0,
          }
        }
        return null
      }
    }
    const slash = path.lastIndexOf('/')
    const siblings = await listDir(client, slash === 0 ? '/' : path.slice(0, slash))
    return siblings?.find((entry) => entry.path === path) ?? null
  }

  /** MDTM as epoch ms; 0 where the server has none for this path (vsftpd, for directories). */
  async function modifiedAt(client: Client, path: string): Promise<number> {
    const reply = await client.sendIgnoringError(`MDTM ${path}`)
    return reply.code === 213 ? (parseFactTime(reply.message.slice(4).trim()) ?? 0) : 0
  }

  async function isDirectory(client: Client, dir: string): Promise<boolean> {
    try {
      await client.cd(dir)
      return true
    } catch (error) {
      if (isReply(error)) return false
      throw error
    }
  }

  return {
    endpoint: endpoint.name,

    list(dir, options) {
      const path = absolutePath(dir)
      return run(`list ${path}`, options, async (client) => {
        const entries = await listDir(client, path)
        if (!entries) throw new BridgeError('REMOTE_NOT_FOUND', `no such directory: ${path}`)
        return entries
      })
    },

    stat(target, options) {
      const path = absolutePath(target)
      return run(`stat ${path}`, options, (client) => statEntry(client, path, options?.modifiedAt !== false))
    },

    read<T>(target: string, consume: (stream: Readable) => Promise<T>, options?: RemoteOpOptions) {
      const path = absolutePath(target)
      return run(`read ${path}`, options, async (client, control) => {
        const gate = new DownloadGate()
        let consumed: Promise<T> | undefined
        let transferDone = false
        let consumerLeftEarly = false
        const startConsumer = () => {
          if (consumed) return
          control.commit()
          consumed = consume(gate.readable)
          control.hold(consumed)
          const settled = () => {
            // A consumer that returns before the end leaves RETR running; only closing stops it.
            if (!transferDone) {
              consumerLeftEarly = true
              client.close()
            }
          }
          consumed.then(settled, settled)
        }
        gate.onFirstChunk = startConsumer
        control.watch(() => ({ bytes: gate.bytes, waitingOnLocal: gate.readable.writableNeedDrain }))
        let transferError: BridgeError | undefined
        try {
          await client.downloadTo(gate.sink, path)
        } catch (error) {
          transferError = ftpError(error)
        }
        transferDone = true
        if (transferError && !consumerLeftEarly) {
          // Nobody listens for errors on the stream before the consumer has it.
          if (consumed) gate.fail(transferError)
          else gate.readable.destroy()
          throw transferError
        }
        startConsumer()
        if (!gate.readable.destroyed) gate.finish()
        try {
          return await (consumed as Promise<T>)
        } catch (error) {
          throw new CallerFailure(error)
        }
      })
    },

    write(target, source, options) {
      const path = absolutePath(target)
      return run(`write ${path}`, options, async (client, control) => {
        let bytes = 0
        let sourceError: unknown
        let sourceEnded = false
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            bytes += chunk.length
            callback(null, chunk)
          },
          // Ending a TLS data connection during its handshake (an empty file) makes vsftpd
          // fail the transfer ("wrong version number", "decode error"); the end waits for the
          // handshake and one more turn of the event loop (measured: 0 of 150 failed since).
          flush(callback) {
            const handshake = dataHandshakes.get(client)
            if (handshake) handshake.then(() => setImmediate(callback))
            else callback()
          },
        })
        // The source is only touched once the server accepted STOR; until then a dead
        // connection can be retried without losing data. pipe(), not pipeline(): a failing
        // upload must not be mistaken for a failing source.
        counter.once('resume', () => {
          control.commit()
          source.once('error', (error) => {
            sourceError ??= error
            counter.destroy(error)
          })
          source.once('end', () => {
            sourceEnded = true
          })
          source.pipe(counter)
        })
        control.watch(() => ({ bytes, waitingOnLocal: !sourceEnded && counter.readableLength === 0 }))
        try {
          await client.uploadFrom(counter, path)
        } catch (error) {
          if (!sourceEnded) {
            source.unpipe(counter)
            source.destroy()
          }
          if (sourceError === undefined) throw error
          // The server still expects the rest of the upload; the connection is unusable.
          client.close()
          throw new CallerFailure(sourceError)
        }
        return { bytes }
      })
    },

    rename(fromPath, toPath, options) {
      const from = absolutePath(fromPath)
      const to = absolutePath(toPath)
      if (!endpoint.supportsRename) return Promise.reject(renameUnsupported(endpoint.name))
      return run(`rename ${from}`, options, async (client, control) => {
        control.commit()
        if (!options?.overwrite) {
          // RNTO replaces an existing file on most servers (vsftpd, ftp-srv, ProFTPD), so
          // the refusal has to be ours; a file created between the check and RNTO is replaced.
          if (await exists(client, to)) throw fileExists(to)
          await client.rename(from, to)
          return
        }
        try {
          await client.rename(from, to)
        } catch (error) {
          // Servers that refuse RNTO onto an existing file get it removed first; `to` is
          // absent between the two. A missing `from` keeps its own error and the target.
          if (!isReply(error) || !(await exists(client, to)) || !(await exists(client, from))) throw error
          await client.remove(to)
          await client.rename(from, to)
        }
      })
    },

    delete(target, options) {
      const path = absolutePath(target)
      return run(`delete ${path}`, options, async (client, control) => {
        control.commit()
        try {
          await client.remove(path)
        } catch (error) {
          if (!isReply(error) || !(await isDirectory(client, path))) throw error
          await client.removeEmptyDir(path)
        }
      })
    },

    mkdirp(dir, options) {
      const path = absolutePath(dir)
      return run(`mkdirp ${path}`, options, async (client) => {
        if (await isDirectory(client, path)) return
        for (const step of ancestry(path)) {
          if (await isDirectory(client, step)) continue
          try {
            await client.send(`MKD ${step}`)
          } catch (error) {
            // Someone else may have created it in the meantime.
            if (!isReply(error) || !(await isDirectory(client, step))) throw error
          }
        }
      })
    },

    close: (closeOptions?: CloseOptions) => pool.close(closeOptions),
  }
}
