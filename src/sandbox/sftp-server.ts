/**
 * An in-process SFTP server for tests and the demo: ssh2's Server with an
 * SFTP subsystem over a local directory, password and public-key logins, a
 * host key made at start, and faults that tests can arm (drop, stall).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Stats as FsStats } from 'node:fs'
import {
  chmod,
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  rename,
  rmdir,
  stat,
  unlink,
  utimes,
} from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { join, posix, sep } from 'node:path'
import ssh2, { type AuthContext, type Connection, type FileEntry, type SFTPWrapper } from 'ssh2'

const { Server, utils } = ssh2
const { STATUS_CODE } = utils.sftp

export interface SftpSandboxUser {
  username: string
  password?: string
  /** OpenSSH public key line ("ssh-ed25519 AAAA… comment"). */
  publicKey?: string
}

export interface SftpSandboxOptions {
  root: string
  users: SftpSandboxUser[]
  port?: number
  host?: string
}

export interface SftpSandboxFaults {
  /** The next connection to move at least `bytes` file bytes (read or written) is cut off. */
  dropAfterBytes(bytes: number): void
  /** The next `count` SFTP requests are never answered. */
  stall(count: number): void
}

export interface SftpSandbox {
  host: string
  port: number
  /** "SHA256:<base64>", as ssh-keygen -l prints it. */
  hostKeySha256: string
  hostPublicKey: string
  faults: SftpSandboxFaults
  connectionCount(): number
  maxConcurrentConnections(): number
  close(): Promise<void>
}

type OpenHandle = { kind: 'file'; file: FileHandle } | { kind: 'dir'; path: string; remaining?: FileEntry[] }

const NAMES_PER_REPLY = 64

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

function statusFor(error: unknown): number {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR') return STATUS_CODE.NO_SUCH_FILE
  if (code === 'EACCES' || code === 'EPERM' || code === 'EOUTSIDE') return STATUS_CODE.PERMISSION_DENIED
  return STATUS_CODE.FAILURE
}

function attrsOf(stats: FsStats) {
  return {
    mode: stats.mode,
    uid: stats.uid,
    gid: stats.gid,
    size: stats.size,
    atime: Math.floor(stats.atimeMs / 1000),
    mtime: Math.floor(stats.mtimeMs / 1000),
  }
}

function longnameOf(name: string, stats: FsStats): string {
  const type = stats.isDirectory() ? 'd' : stats.isSymbolicLink() ? 'l' : '-'
  const bits = 'rwxrwxrwx'
  const perms = [...bits].map((char, index) => (stats.mode & (1 << (8 - index)) ? char : '-')).join('')
  const date = stats.mtime.toUTCString().slice(5, 22)
  return `${type}${perms} 1 ${stats.uid} ${stats.gid} ${String(stats.size).padStart(10)} ${date} ${name}`
}

/**
 * ssh2's generateKeyPairSync('ed25519') drops a leading zero byte of the key now and then
 * (about 1 in 200 keys), leaving a key ssh2 itself cannot parse; such keys are drawn again.
 */
export function generateSshKeyPair(encryption?: { passphrase: string; cipher: string; rounds: number }): {
  private: string
  public: string
} {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', encryption ?? {})
    const parsed = utils.parseKey(pair.private, encryption?.passphrase)
    if (!(parsed instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair
  }
}

export async function startSftpServer(options: SftpSandboxOptions): Promise<SftpSandbox> {
  const host = options.host ?? '127.0.0.1'
  const realRoot = await realpath(options.root)
  const hostKey = generateSshKeyPair()
  const parsedHostKey = utils.parseKey(hostKey.public)
  if (parsedHostKey instanceof Error) throw parsedHostKey
  const hostKeySha256 = `SHA256:${createHash('sha256').update(parsedHostKey.getPublicSSH()).digest('base64').replace(/=+$/, '')}`

  const sockets = new Set<Socket>()
  let accepted = 0
  let peak = 0
  let dropThreshold: number | undefined
  let stallsLeft = 0

  /** Maps a client path into the root; ".." cannot climb out, nor can a symlink. */
  async function localPath(clientPath: string): Promise<string> {
    const normalized = posix.normalize(posix.join('/', clientPath))
    const local = join(realRoot, ...normalized.split('/').filter(Boolean))
    const parent = normalized === '/' ? realRoot : join(local, '..')
    // An existing path is judged by where it really leads; a new one by its parent.
    const resolved = await realpath(local).catch(() => realpath(parent).catch(() => parent))
    if (resolved !== realRoot && !resolved.startsWith(realRoot + sep)) {
      throw Object.assign(new Error(`outside the root: ${clientPath}`), { code: 'EOUTSIDE' })
    }
    return local
  }

  function serveSftp(sftp: SFTPWrapper, socket: Socket): void {
    const handles = new Map<number, OpenHandle>()
    let nextHandle = 1
    let bytesMoved = 0

    const newHandle = (entry: OpenHandle): Buffer => {
      const id = nextHandle++
      handles.set(id, entry)
      const buffer = Buffer.alloc(4)
      buffer.writeUInt32BE(id)
      return buffer
    }
    const lookup = (handle: Buffer): OpenHandle | undefined =>
      handle.length === 4 ? handles.get(handle.readUInt32BE(0)) : undefined

    /** True when the drop fault cut this connection off instead of letting `bytes` through. */
    const droppedAt = (bytes: number): boolean => {
      bytesMoved += bytes
      if (dropThreshold === undefined || bytesMoved < dropThreshold) return false
      dropThreshold = undefined
      socket.destroy()
      return true
    }

    const on = (event: string, handler: (reqid: number, ...args: never[]) => Promise<void>) => {
      sftp.on(event, (reqid: number, ...args: never[]) => {
        if (stallsLeft > 0) {
          stallsLeft--
          return
        }
        handler(reqid, ...args).catch((error: unknown) => {
          if (!socket.destroyed) sftp.status(reqid, statusFor(error), (error as Error).message)
        })
      })
    }

    on('OPEN', async (reqid, filename: string, flags: number, attrs: { mode?: number }) => {
      const mode = utils.sftp.flagsToString(flags) ?? 'r'
      const file = await open(await localPath(filename), mode, attrs?.mode ?? 0o644)
      sftp.handle(reqid, newHandle({ kind: 'file', file }))
    })
    on('READ', async (reqid, handle: Buffer, offset: number, length: number) => {
      const entry = lookup(handle)
      if (entry?.kind !== 'file') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
      const buffer = Buffer.alloc(length)
      const { bytesRead } = await entry.file.read(buffer, 0, length, offset)
      if (bytesRead === 0) return void sftp.status(reqid, STATUS_CODE.EOF)
      if (droppedAt(bytesRead)) return
      sftp.data(reqid, buffer.subarray(0, bytesRead))
    })
    on('WRITE', async (reqid, handle: Buffer, offset: number, data: Buffer) => {
      const entry = lookup(handle)
      if (entry?.kind !== 'file') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
      if (droppedAt(data.length)) return
      await entry.file.write(data, 0, data.length, offset)
      sftp.status(reqid, STATUS_CODE.OK)
    })
    on('CLOSE', async (reqid, handle: Buffer) => {
      const entry = lookup(handle)
      if (!entry) return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
      handles.delete(handle.readUInt32BE(0))
      if (entry.kind === 'file') await entry.file.close()
      sftp.status(reqid, STATUS_CODE.OK)
    })
    on('FSTAT', async (reqid, handle: Buffer) => {
      const entry = lookup(handle)
      if (entry?.kind !== 'file') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
      sftp.attrs(reqid, attrsOf(await entry.file.stat()))
    })
    on('STAT', async (reqid, path: string) => {
      sftp.attrs(reqid, attrsOf(await stat(await localPath(path))))
    })
    on('LSTAT', async (reqid, path: string) => {
      sftp.attrs(reqid, attrsOf(await lstat(await localPath(path))))
    })
    on('SETSTAT', async (reqid, path: string, attrs: { mtime?: number; atime?: number; mode?: number }) => {
      const local = await localPath(path)
      if (attrs.mode !== undefined) await chmod(local, attrs.mode & 0o7777)
      if (attrs.mtime !== undefined) await utimes(local, attrs.atime ?? attrs.mtime, attrs.mtime)
      sftp.status(reqid, STATUS_CODE.OK)
    })
    on('OPENDIR', async (reqid, path: string) => {
      const local = await localPath(path)
      if (!(await stat(local)).isDirectory())
        return void sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE, 'not a directory')
      sftp.handle(reqid, newHandle({ kind: 'dir', path: local }))
    })
    on('READDIR', async (reqid, handle: Buffer) => {
      const entry = lookup(handle)
      if (entry?.kind !== 'dir') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
      if (!entry.remaining) {
        entry.remaining = []
        // By bytes: a name that is not UTF-8 must still be found; it is sent decoded (U+FFFD for
        // bad bytes), which is what a client of OpenSSH sees after ssh2 decodes the raw name.
        for (const bytes of await readdir(entry.path, { encoding: 'buffer' })) {
          const name = bytes.toString('utf8')
          const local = Buffer.concat([Buffer.from(`${entry.path}${sep}`), bytes])
          // A file renamed or deleted since readdir is simply not listed, as a real server's listing would not.
          const stats = await lstat(local).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') return null
            throw error
          })
          if (stats)
            entry.remaining.push({ filename: name, longname: longnameOf(name, stats), attrs: attrsOf(stats) })
        }
      }
      // A NAME reply must fit in one channel packet, so long listings go out over several READDIRs.
      const batch = entry.remaining.splice(0, NAMES_PER_REPLY)
      if (batch.length === 0) return void sftp.status(reqid, STATUS_CODE.EOF)
      sftp.name(reqid, batch)
    })
    on('MKDIR', async (reqid, path: string) => {
      await mkdir(await localPath(path))
      sftp.status(reqid, STATUS_CODE.OK)
    })
    on('RMDIR', async (reqid, path: string) => {
      await rmdir(await localPath(path))
      sftp.status(reqid, STATUS_CODE.OK)
    })
    on('REMOVE', async (reqid, path: string) => {
      await unlink(await localPath(path))
      sftp.status(reqid, STATUS_CODE.OK)
    })
    on('RENAME', async (reqid, from: string, to: string) => {
      await rename(await localPath(from), await localPath(to))
      sftp.status(reqid, STATUS_CODE.OK)
    })
    on('REALPATH', async (reqid, path: string) => {
      const normalized = posix.normalize(posix.join('/', path))
      const stats = await stat(await localPath(normalized))
      sftp.name(reqid, [
        { filename: normalized, longname: longnameOf(normalized, stats), attrs: attrsOf(stats) },
      ])
    })
    sftp.on('close', () => {
      for (const entry of handles.values())
        if (entry.kind === 'file') entry.file.close().catch(() => undefined)
      handles.clear()
    })
  }

  function accepts(ctx: AuthContext): boolean {
    const user = options.users.find((candidate) => candidate.username === ctx.username)
    if (!user) return false
    if (ctx.method === 'password')
      return user.password !== undefined && sameSecret(ctx.password, user.password)
    if (ctx.method !== 'publickey' || !user.publicKey) return false
    const allowed = utils.parseKey(user.publicKey)
    if (allowed instanceof Error || !ctx.key.data.equals(allowed.getPublicSSH())) return false
    // Without a signature the client only asks whether this key would do.
    if (!ctx.signature || !ctx.blob) return true
    return allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true
  }

  function authenticate(ctx: AuthContext): void {
    if (accepts(ctx)) ctx.accept()
    else ctx.reject(['password', 'publickey'])
  }

  const byRemotePort = new Map<number, Socket>()
  const sshServer = new Server({ hostKeys: [hostKey.private] }, (client: Connection, info) => {
    const socket = byRemotePort.get(info.port)
    if (!socket) return client.end()
    client.on('error', () => undefined)
    client.on('authentication', authenticate)
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession()
        session.on('sftp', (acceptSftp) => serveSftp(acceptSftp(), socket))
      })
    })
  })

  const tcp = createServer((socket) => {
    accepted++
    sockets.add(socket)
    peak = Math.max(peak, sockets.size)
    const remotePort = socket.remotePort ?? 0
    byRemotePort.set(remotePort, socket)
    socket.on('close', () => {
      sockets.delete(socket)
      if (byRemotePort.get(remotePort) === socket) byRemotePort.delete(remotePort)
    })
    socket.on('error', () => undefined)
    sshServer.injectSocket(socket)
  })
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject)
    tcp.listen(options.port ?? 0, host, () => resolve())
  })
  const address = tcp.address()
  if (!address || typeof address === 'string') throw new Error('SFTP sandbox has no TCP address')

  let closing: Promise<void> | undefined
  return {
    host,
    port: address.port,
    hostKeySha256,
    hostPublicKey: hostKey.public,
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
      closing ??= new Promise<void>((resolve) => {
        tcp.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      })
      return closing
    },
  }
}
