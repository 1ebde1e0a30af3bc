/**
 * An in-process FTP / FTPS server for tests and the demo, on ftp-srv, over a
 * local directory. Passive mode only, on loopback; faults can be armed.
 *
 * Three ftp-srv behaviours are adjusted here: it strips every `"` from
 * commands (names with double quotes would be mangled), it installs
 * process-wide signal handlers that exit the process, and it follows
 * symlinks out of its root (a link to /etc/passwd in an inbox was served).
 * Like the SFTP sandbox, every path is judged by where it really leads
 * (./ftp-file-system.ts): a link that stays inside the root works, one that
 * leads outside is refused (550, "permission denied"), and listings show
 * links as links (`lrwxrwxrwx … name -> target`) as a real server's `ls -l`
 * does.
 */
import { randomBytes, randomInt } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import { realpath } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { StringDecoder } from 'node:string_decoder'
import ftpSrv, { type FtpConnection } from 'ftp-srv'
import { type ArmedFaults, faultControls, noArmedFaults, spendStall } from './armed-faults.js'
import { type ListedStats, listingLine, SandboxFileSystem } from './ftp-file-system.js'
import { serverCertPem, serverKeyPem } from './tls/index.js'

const { FtpSrv } = ftpSrv

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
  _handleData(data: Buffer): Promise<unknown>
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

/** ftp-srv, listening nowhere yet, without the signal handlers it installs to exit the process. */
function newFtpSrv(host: string, port: number, tlsMode: 'explicit' | 'implicit' | false) {
  // Below Linux's ephemeral range, and random, so servers in parallel test processes rarely meet;
  // ftp-srv skips ports that are taken.
  const pasvMin = randomInt(10_000, 30_000)
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]))
  const server = new FtpSrv({
    url: `${tlsMode === 'implicit' ? 'ftps' : 'ftp'}://${host}:${port}`,
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
  return server
}

interface ConnectionCounts {
  accepted: number
  live: number
  peak: number
}

/**
 * Hands ftp-srv only whole CRLF-terminated command lines. ftp-srv runs every
 * fragment of a `data` event as a command, so a connection cut in the middle
 * of `RNTO /processed/doc.pdf` renamed the file to `/processed/doc.p`; real
 * servers (vsftpd, pure-ftpd, ProFTPD) drop an unterminated line.
 */
function frameCommandLines(connection: FtpConnection & ConnectionInternals): void {
  const socket = connection.commandSocket
  const decoder = new StringDecoder('utf8')
  let pending = ''
  socket.removeAllListeners('data')
  socket.on('data', (chunk: Buffer) => {
    pending += decoder.write(chunk)
    const end = pending.lastIndexOf('\r\n')
    if (end === -1) return
    const complete = pending.slice(0, end + 2)
    pending = pending.slice(end + 2)
    void connection._handleData(Buffer.from(complete, 'utf8'))
  })
}

/** Counts a new connection, keeps quotes in its commands, and lets the stall fault hold them. */
function takeConnection(
  connection: FtpConnection & ConnectionInternals,
  counts: ConnectionCounts,
  faults: ArmedFaults,
): void {
  counts.accepted++
  counts.live++
  counts.peak = Math.max(counts.peak, counts.live)
  frameCommandLines(connection)
  const commands = connection.commands
  const handle = commands.handle.bind(commands)
  commands.parse = parseKeepingQuotes
  commands.handle = (command) => (spendStall(faults) ? Promise.resolve() : handle(command))
}

export async function startFtpServer(options: FtpSandboxOptions): Promise<FtpSandbox> {
  const host = options.host ?? '127.0.0.1'
  const tlsMode = options.tls ?? false
  const root = await realpath(options.root)
  const counts: ConnectionCounts = { accepted: 0, live: 0, peak: 0 }
  const faults = noArmedFaults()
  const server = newFtpSrv(host, options.port ?? 0, tlsMode)

  // 'connect' is missing from ftp-srv's typings.
  const events: EventEmitter = server
  events.on('connect', ({ connection }: { connection: FtpConnection & ConnectionInternals }) =>
    takeConnection(connection, counts, faults),
  )
  server.on('disconnect', () => {
    counts.live--
  })
  server.on('client-error', () => undefined)
  server.on('login', ({ connection, username, password }, resolve, reject) => {
    if (username === options.username && password === options.password) {
      resolve({ fs: new SandboxFileSystem(connection as FtpConnection & ConnectionInternals, root, faults) })
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
    faults: faultControls(faults),
    connectionCount: () => counts.accepted,
    maxConcurrentConnections: () => counts.peak,
    close() {
      closing ??= Promise.resolve(server.close()).then(() => undefined)
      return closing
    },
  }
}
