/**
 * The SFTP sandbox's subsystem for one connection: SFTP requests answered
 * over a local directory, confined to it (neither ".." nor a symlink climbs
 * out), with the sandbox's armed faults applied.
 */
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
import type { Socket } from 'node:net'
import { join, posix, sep } from 'node:path'
import ssh2, { type FileEntry, type SFTPWrapper } from 'ssh2'
import { type ArmedFaults, dropCounter, spendStall } from './armed-faults.js'

const { utils } = ssh2
const { STATUS_CODE } = utils.sftp

type OpenHandle = { kind: 'file'; file: FileHandle } | { kind: 'dir'; path: string; remaining?: FileEntry[] }

const NAMES_PER_REPLY = 64

/** One connection's SFTP subsystem: its open handles and what it answers with. */
interface SftpSession {
  sftp: SFTPWrapper
  socket: Socket
  /** The served directory, as realpath gives it. */
  root: string
  faults: ArmedFaults
  handles: Map<number, OpenHandle>
  nextHandle: number
  /** True when the drop fault cut this connection off instead of letting `bytes` through. */
  droppedAt: (bytes: number) => boolean
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

/** Maps a client path into the root; ".." cannot climb out, nor can a symlink. */
async function localPath(root: string, clientPath: string): Promise<string> {
  const normalized = posix.normalize(posix.join('/', clientPath))
  const local = join(root, ...normalized.split('/').filter(Boolean))
  const parent = normalized === '/' ? root : join(local, '..')
  // An existing path is judged by where it really leads; a new one by its parent.
  const resolved = await realpath(local).catch(() => realpath(parent).catch(() => parent))
  if (resolved !== root && !resolved.startsWith(root + sep)) {
    throw Object.assign(new Error(`outside the root: ${clientPath}`), { code: 'EOUTSIDE' })
  }
  return local
}

function newHandle(session: SftpSession, entry: OpenHandle): Buffer {
  const id = session.nextHandle++
  session.handles.set(id, entry)
  const buffer = Buffer.alloc(4)
  buffer.writeUInt32BE(id)
  return buffer
}

function lookup(session: SftpSession, handle: Buffer): OpenHandle | undefined {
  return handle.length === 4 ? session.handles.get(handle.readUInt32BE(0)) : undefined
}

/** Answers `event` with `handler`, unless the stall fault swallows it; a failure answers its status. */
function on(
  session: SftpSession,
  event: string,
  handler: (reqid: number, ...args: never[]) => Promise<void>,
): void {
  const { sftp, socket } = session
  sftp.on(event, (reqid: number, ...args: never[]) => {
    if (spendStall(session.faults)) return
    handler(reqid, ...args).catch((error: unknown) => {
      if (!socket.destroyed) sftp.status(reqid, statusFor(error), (error as Error).message)
    })
  })
}

/**
 * Appends a directory's entries to `entries` as they are read (a READDIR meanwhile sees what
 * is there so far). By bytes: a name that is not UTF-8 must still be found; it is sent decoded
 * (U+FFFD for bad bytes), which is what a client of OpenSSH sees after ssh2 decodes the raw name.
 */
async function readEntriesInto(path: string, entries: FileEntry[]): Promise<void> {
  for (const bytes of await readdir(path, { encoding: 'buffer' })) {
    const name = bytes.toString('utf8')
    const local = Buffer.concat([Buffer.from(`${path}${sep}`), bytes])
    // A file renamed or deleted since readdir is simply not listed, as a real server's listing would not.
    const stats = await lstat(local).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null
      throw error
    })
    if (stats) entries.push({ filename: name, longname: longnameOf(name, stats), attrs: attrsOf(stats) })
  }
}

/** OPEN, READ, WRITE, CLOSE and FSTAT: requests on open file handles. */
function serveFileRequests(session: SftpSession): void {
  const { sftp } = session
  on(session, 'OPEN', async (reqid, filename: string, flags: number, attrs: { mode?: number }) => {
    const mode = utils.sftp.flagsToString(flags) ?? 'r'
    const file = await open(await localPath(session.root, filename), mode, attrs?.mode ?? 0o644)
    sftp.handle(reqid, newHandle(session, { kind: 'file', file }))
  })
  on(session, 'READ', async (reqid, handle: Buffer, offset: number, length: number) => {
    const entry = lookup(session, handle)
    if (entry?.kind !== 'file') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    const buffer = Buffer.alloc(length)
    const { bytesRead } = await entry.file.read(buffer, 0, length, offset)
    if (bytesRead === 0) return void sftp.status(reqid, STATUS_CODE.EOF)
    if (session.droppedAt(bytesRead)) return
    sftp.data(reqid, buffer.subarray(0, bytesRead))
  })
  on(session, 'WRITE', async (reqid, handle: Buffer, offset: number, data: Buffer) => {
    const entry = lookup(session, handle)
    if (entry?.kind !== 'file') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    if (session.droppedAt(data.length)) return
    await entry.file.write(data, 0, data.length, offset)
    sftp.status(reqid, STATUS_CODE.OK)
  })
  on(session, 'CLOSE', async (reqid, handle: Buffer) => {
    const entry = lookup(session, handle)
    if (!entry) return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    session.handles.delete(handle.readUInt32BE(0))
    if (entry.kind === 'file') await entry.file.close()
    sftp.status(reqid, STATUS_CODE.OK)
  })
  on(session, 'FSTAT', async (reqid, handle: Buffer) => {
    const entry = lookup(session, handle)
    if (entry?.kind !== 'file') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    sftp.attrs(reqid, attrsOf(await entry.file.stat()))
  })
}

/** STAT, LSTAT and SETSTAT: a path's attributes. */
function serveAttributeRequests(session: SftpSession): void {
  const { sftp, root } = session
  on(session, 'STAT', async (reqid, path: string) => {
    sftp.attrs(reqid, attrsOf(await stat(await localPath(root, path))))
  })
  on(session, 'LSTAT', async (reqid, path: string) => {
    sftp.attrs(reqid, attrsOf(await lstat(await localPath(root, path))))
  })
  on(
    session,
    'SETSTAT',
    async (reqid, path: string, attrs: { mtime?: number; atime?: number; mode?: number }) => {
      const local = await localPath(root, path)
      if (attrs.mode !== undefined) await chmod(local, attrs.mode & 0o7777)
      if (attrs.mtime !== undefined) await utimes(local, attrs.atime ?? attrs.mtime, attrs.mtime)
      sftp.status(reqid, STATUS_CODE.OK)
    },
  )
}

/** OPENDIR and READDIR: listings. */
function serveDirectoryRequests(session: SftpSession): void {
  const { sftp } = session
  on(session, 'OPENDIR', async (reqid, path: string) => {
    const local = await localPath(session.root, path)
    if (!(await stat(local)).isDirectory())
      return void sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE, 'not a directory')
    sftp.handle(reqid, newHandle(session, { kind: 'dir', path: local }))
  })
  on(session, 'READDIR', async (reqid, handle: Buffer) => {
    const entry = lookup(session, handle)
    if (entry?.kind !== 'dir') return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    if (!entry.remaining) {
      entry.remaining = []
      await readEntriesInto(entry.path, entry.remaining)
    }
    // A NAME reply must fit in one channel packet, so long listings go out over several READDIRs.
    const batch = entry.remaining.splice(0, NAMES_PER_REPLY)
    if (batch.length === 0) return void sftp.status(reqid, STATUS_CODE.EOF)
    sftp.name(reqid, batch)
  })
}

/** MKDIR, RMDIR, REMOVE, RENAME and REALPATH: changes to the tree, and where a path leads. */
function servePathRequests(session: SftpSession): void {
  const { sftp, root } = session
  on(session, 'MKDIR', async (reqid, path: string) => {
    await mkdir(await localPath(root, path))
    sftp.status(reqid, STATUS_CODE.OK)
  })
  on(session, 'RMDIR', async (reqid, path: string) => {
    await rmdir(await localPath(root, path))
    sftp.status(reqid, STATUS_CODE.OK)
  })
  on(session, 'REMOVE', async (reqid, path: string) => {
    await unlink(await localPath(root, path))
    sftp.status(reqid, STATUS_CODE.OK)
  })
  on(session, 'RENAME', async (reqid, from: string, to: string) => {
    await rename(await localPath(root, from), await localPath(root, to))
    sftp.status(reqid, STATUS_CODE.OK)
  })
  on(session, 'REALPATH', async (reqid, path: string) => {
    const normalized = posix.normalize(posix.join('/', path))
    const stats = await stat(await localPath(root, normalized))
    sftp.name(reqid, [
      { filename: normalized, longname: longnameOf(normalized, stats), attrs: attrsOf(stats) },
    ])
  })
}

/** Serves the SFTP subsystem of one connection (`socket`) over `root`, until it closes. */
export function serveSftp(sftp: SFTPWrapper, socket: Socket, root: string, faults: ArmedFaults): void {
  const session: SftpSession = {
    sftp,
    socket,
    root,
    faults,
    handles: new Map(),
    nextHandle: 1,
    droppedAt: dropCounter(faults, () => socket.destroy()),
  }
  serveFileRequests(session)
  serveAttributeRequests(session)
  serveDirectoryRequests(session)
  servePathRequests(session)
  sftp.on('close', () => {
    for (const entry of session.handles.values())
      if (entry.kind === 'file') entry.file.close().catch(() => undefined)
    session.handles.clear()
  })
}
