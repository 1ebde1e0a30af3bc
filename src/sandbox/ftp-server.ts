/**
 * An in-process FTP / FTPS server for tests and the demo, on ftp-srv, over a
 * local directory. Passive mode only, on loopback; faults can be armed.
 *
 * Three ftp-srv behaviours are adjusted here: it strips every `"` from
 * commands (names with double quotes would be mangled), it installs
 * process-wide signal handlers that exit the process, and it follows
 * symlinks out of its root (a link to /etc/passwd in an inbox was served).
 * Like the SFTP sandbox, every path is judged by where it really leads: a
 * link that stays inside the root works, one that leads outside is refused
 * (550, "permission denied"), and listings show links as links
 * (`lrwxrwxrwx … name -> target`) as a real server's `ls -l` does.
 */
import { randomBytes, randomInt } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import type { Stats } from 'node:fs'
import { lstat, readdir, readlink, realpath } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import { dirname, posix, sep } from 'node:path'
import { PassThrough, type Readable, Writable } from 'node:stream'
import ftpSrv, { type FtpConnection } from 'ftp-srv'
import { serverCertPem, serverKeyPem } from './tls/index.js'

const { FtpSrv, FileSystem } = ftpSrv

/** ftp-srv's own `ls -l` line (not exported by its entry point); links get their `l` and target here. */
const lsLine = createRequire(import.meta.url)('ftp-srv/src/helpers/file-stat.js') as (
  stat: Stats,
  format: 'ls',
) => string

type ListedStats = Stats & { name: string; linkTarget?: string }

function listingLine(stat: ListedStats): string {
  const line = lsLine(stat, 'ls')
  return stat.linkTarget === undefined ? line : `l${line.slice(1)} -> ${stat.linkTarget}`
}

/**
 * Whether `fsPath` really leads inside `root`: judged by its nearest existing
 * ancestor (itself when it exists) through that ancestor's links, so neither
 * a link nor a new name below a link (MKD of a/b/c where a leads out) escapes.
 */
async function leadsInside(root: string, fsPath: string): Promise<boolean> {
  for (let probe = fsPath; ; probe = dirname(probe)) {
    const real = await realpath(probe).catch(() => null)
    if (real !== null) return real === root || real.startsWith(root + sep)
    if (dirname(probe) === probe) return false
  }
}

/**
 * A directory's entries as lstat sees them: a link is listed as a link, never
 * followed. Names are read as bytes: ftp-srv dropped a name that is not UTF-8
 * (it could not stat the decoded string); here it is listed as a real
 * server's client sees it, with U+FFFD where the bytes are not UTF-8.
 */
async function listWithoutFollowing(dir: string): Promise<ListedStats[]> {
  const entries = await Promise.all(
    (await readdir(dir, { encoding: 'buffer' })).map(async (bytes): Promise<ListedStats | null> => {
      const path = Buffer.concat([Buffer.from(`${dir}/`), bytes])
      // An entry renamed or deleted since readdir is simply not listed.
      const stats = await lstat(path).catch(() => null)
      if (stats === null) return null
      const linkTarget = stats.isSymbolicLink() ? await readlink(path).catch(() => '?') : undefined
      return Object.assign(
        stats,
        { name: bytes.toString('utf8') },
        linkTarget === undefined ? {} : { linkTarget },
      )
    }),
  )
  return entries.filter((entry): entry is ListedStats => entry !== null)
}

export interface FtpSandboxOptions {
  root: string
  username: string
  password: string
  /** explicit: AUTH TLS on the plain port; implicit: TLS from the first byte. */
  tls?: 'explicit' | 'implicit' | false
  port?: number
  host?: string
}

export interface FtpSandboxFaults {
  /** The next connection to move at least `bytes` file bytes (RETR or STOR) is cut off. */
  dropAfterBytes(bytes: number): void
  /** The next `count` commands are never answered; a transfer in progress freezes instead (counts as one). */
  stall(count: number): void
}

export interface FtpSandbox {
  host: string
  port: number
  tls: 'explicit' | 'implicit' | false
  faults: FtpSandboxFaults
  connectionCount(): number
  maxConcurrentConnections(): number
  close(): Promise<void>
}

/** What this sandbox reaches into on an ftp-srv connection (not in its typings). */
interface ConnectionInternals {
  commandSocket: Socket
  commands: {
    handle(command: string | ParsedCommand): Promise<unknown>
    parse(message: string): ParsedCommand
  }
}

interface ParsedCommand {
  directive: string
  arg: string | null
  flags: string[]
  raw: string
}

const silentLog = {
  child: () => silentLog,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  fatal: () => undefined,
}

/** ftp-srv's parser without the quote stripping; -x flags only for LIST-like commands. */
function parseKeepingQuotes(message: string): ParsedCommand {
  const space = message.indexOf(' ')
  const directive = (space === -1 ? message : message.slice(0, space)).trim().toUpperCase()
  const rest = space === -1 ? '' : message.slice(space + 1)
  const flags: string[] = []
  let arg = rest
  if (directive === 'LIST' || directive === 'NLST' || directive === 'STAT') {
    const words = rest.split(' ')
    while (words.length > 0 && /^-\w$/.test(words[0]!)) flags.push(words.shift()!)
    arg = words.join(' ')
  }
  return { directive, arg: arg === '' ? null : arg, flags, raw: message }
}

const signals = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const

export async function startFtpServer(options: FtpSandboxOptions): Promise<FtpSandbox> {
  const host = options.host ?? '127.0.0.1'
  const tlsMode = options.tls ?? false
  const root = await realpath(options.root)
  let accepted = 0
  let live = 0
  let peak = 0
  let dropThreshold: number | undefined
  let stallsLeft = 0

  // Below Linux's ephemeral range, and random, so servers in parallel test processes rarely meet;
  // ftp-srv skips ports that are taken.
  const pasvMin = randomInt(10_000, 30_000)
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]))
  const server = new FtpSrv({
    url: `${tlsMode === 'implicit' ? 'ftps' : 'ftp'}://${host}:${options.port ?? 0}`,
    pasv_url: host,
    pasv_min: pasvMin,
    pasv_max: pasvMin + 400,
    anonymous: false,
    greeting: 'sdrive-ftp-bridge sandbox',
    log: silentLog,
    // One set of ticket keys for the control and every data listener, so a client can
    // resume the control connection's TLS session on data connections.
    tls: tlsMode ? { key: serverKeyPem, cert: serverCertPem, ticketKeys: randomBytes(48) } : false,
    file_format: (stat) => listingLine(stat as ListedStats),
  })
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.off(signal, listener)
    }
  }

  class SandboxFileSystem extends FileSystem {
    private moved = 0

    constructor(private readonly owner: FtpConnection & ConnectionInternals) {
      super(owner, { root, cwd: '/' })
    }

    /**
     * ftp-srv turns every `\` into `/`, so `a\b.pdf` (a legal name on a Unix server) was
     * looked up as `a/b.pdf`. Here a backslash is a plain character, as on vsftpd or OpenSSH.
     */
    _resolvePath(path = '.'): { clientPath: string; fsPath: string } {
      const clientPath = posix.isAbsolute(path) ? posix.normalize(path) : posix.join('/', this.cwd, path)
      return { clientPath, fsPath: posix.join(root, clientPath) }
    }

    /** The local path of a client path; refused when it leads outside the root. */
    private async confine(clientPath: string | undefined): Promise<string> {
      const { fsPath } = this._resolvePath(clientPath)
      if (!(await leadsInside(root, fsPath))) {
        throw new Error(`${clientPath}: permission denied, it leads outside the served directory`)
      }
      return fsPath
    }

    override async get(fileName: string) {
      await this.confine(fileName)
      return super.get(fileName)
    }

    override async list(path = '.') {
      return listWithoutFollowing(await this.confine(path))
    }

    override async chdir(path = '.') {
      await this.confine(path)
      return super.chdir(path)
    }

    override async delete(path: string) {
      await this.confine(path)
      return super.delete(path)
    }

    override async mkdir(path: string) {
      await this.confine(path)
      return super.mkdir(path)
    }

    override async rename(from: string, to: string) {
      await this.confine(from)
      await this.confine(to)
      return super.rename(from, to)
    }

    override async chmod(path: string, mode: string) {
      await this.confine(path)
      return super.chmod(path, mode)
    }

    /** True when the drop fault cut this connection off instead of letting `bytes` through. */
    dropped(bytes: number): boolean {
      this.moved += bytes
      if (dropThreshold === undefined || this.moved < dropThreshold) return false
      dropThreshold = undefined
      this.owner.commandSocket.destroy()
      return true
    }

    override async read(fileName: string, readOptions: { start?: unknown }) {
      await this.confine(fileName)
      const result = (await super.read(fileName, readOptions)) as {
        stream: Readable & { path: string }
        clientPath: string
      }
      const source = result.stream
      // ftp-srv pauses and resumes what it sends from; a relay lets a fault freeze or cut it.
      const relay = new PassThrough()
      source.on('data', (chunk: Buffer) => {
        if (stallsLeft > 0) {
          stallsLeft--
          source.pause()
          source.removeAllListeners('data')
          return
        }
        if (this.dropped(chunk.length)) {
          source.destroy()
          return
        }
        if (!relay.write(chunk)) {
          source.pause()
          relay.once('drain', () => source.resume())
        }
      })
      source.once('end', () => relay.end())
      source.once('error', (error) => relay.destroy(error))
      relay.once('close', () => source.destroy())
      return { stream: Object.assign(relay, { path: source.path }), clientPath: result.clientPath }
    }

    override async write(fileName: string, writeOptions: { append?: boolean; start?: unknown }) {
      await this.confine(fileName)
      const inner = super.write(fileName, writeOptions) as {
        stream: Writable & { path: string }
        clientPath: string
      }
      const stream = new Writable({
        write: (chunk: Buffer, _encoding, callback) => {
          if (this.dropped(chunk.length)) callback(new Error('dropped by the sandbox'))
          else inner.stream.write(chunk, callback)
        },
        final: (callback) => {
          inner.stream.end(callback)
        },
        destroy: (error, callback) => {
          inner.stream.destroy()
          callback(error)
        },
      })
      // ftp-srv ends an upload by emitting 'close' when anyone listens for it.
      stream.once('close', () => stream.end())
      return { stream: Object.assign(stream, { path: inner.stream.path }), clientPath: inner.clientPath }
    }
  }

  // 'connect' is missing from ftp-srv's typings.
  const events: EventEmitter = server
  events.on('connect', ({ connection }: { connection: FtpConnection & ConnectionInternals }) => {
    accepted++
    live++
    peak = Math.max(peak, live)
    const commands = connection.commands
    const handle = commands.handle.bind(commands)
    commands.parse = parseKeepingQuotes
    commands.handle = (command) => {
      if (stallsLeft > 0) {
        stallsLeft--
        return Promise.resolve()
      }
      return handle(command)
    }
  })
  server.on('disconnect', () => {
    live--
  })
  server.on('client-error', () => undefined)
  server.on('login', ({ connection, username, password }, resolve, reject) => {
    if (username === options.username && password === options.password) {
      resolve({ fs: new SandboxFileSystem(connection as FtpConnection & ConnectionInternals) })
    } else {
      reject(new Error('login incorrect'))
    }
  })

  await server.listen()
  const address = (server as unknown as { server: { address(): { port: number } } }).server.address()

  let closing: Promise<void> | undefined
  return {
    host,
    port: address.port,
    tls: tlsMode,
    faults: {
      dropAfterBytes: (bytes) => {
        dropThreshold = bytes
      },
      stall: (count) => {
        stallsLeft = count
      },
    },
    connectionCount: () => accepted,
    maxConcurrentConnections: () => peak,
    close() {
      closing ??= Promise.resolve(server.close()).then(() => undefined)
      return closing
    },
  }
}
