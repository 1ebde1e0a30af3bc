/**
 * The FTP sandbox's file system for one connection: ftp-srv's own, confined
 * to the served directory by where each path really leads (symlinks
 * included), with backslashes as plain characters, links listed as links,
 * and the sandbox's armed faults applied to file transfers.
 */
import type { Stats } from 'node:fs'
import { lstat, readdir, readlink, realpath } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import { dirname, posix, sep } from 'node:path'
import { PassThrough, type Readable, Writable } from 'node:stream'
import ftpSrv, { type FtpConnection } from 'ftp-srv'
import { type ArmedFaults, dropCounter, spendStall } from './armed-faults.js'

const { FileSystem } = ftpSrv

/** ftp-srv's own `ls -l` line (not exported by its entry point); links get their `l` and target here. */
const lsLine = createRequire(import.meta.url)('ftp-srv/src/helpers/file-stat.js') as (
  stat: Stats,
  format: 'ls',
) => string

export type ListedStats = Stats & { name: string; linkTarget?: string }

export function listingLine(stat: ListedStats): string {
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

/** What the file system reaches into on an ftp-srv connection (not in its typings). */
type ConnectionWithSocket = FtpConnection & { commandSocket: Socket }

export class SandboxFileSystem extends FileSystem {
  /** True when the drop fault cut this connection off instead of letting `bytes` through. */
  readonly dropped: (bytes: number) => boolean

  constructor(
    owner: ConnectionWithSocket,
    root: string,
    private readonly faults: ArmedFaults,
  ) {
    super(owner, { root, cwd: '/' })
    this.dropped = dropCounter(faults, () => owner.commandSocket.destroy())
  }

  /**
   * ftp-srv turns every `\` into `/`, so `a\b.pdf` (a legal name on a Unix server) was
   * looked up as `a/b.pdf`. Here a backslash is a plain character, as on vsftpd or OpenSSH.
   */
  _resolvePath(path = '.'): { clientPath: string; fsPath: string } {
    const clientPath = posix.isAbsolute(path) ? posix.normalize(path) : posix.join('/', this.cwd, path)
    return { clientPath, fsPath: posix.join(this.root, clientPath) }
  }

  /** The local path of a client path; refused when it leads outside the root. */
  private async confine(clientPath: string | undefined): Promise<string> {
    const { fsPath } = this._resolvePath(clientPath)
    if (!(await leadsInside(this.root, fsPath))) {
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
      if (spendStall(this.faults)) {
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
