/**
 * Looking at paths over FTP: a folder's listing, one path's entry (MLST, or
 * SIZE and MDTM, or the parent's listing), whether a path is a directory.
 */
import type { Client, FileInfo } from 'basic-ftp'
import type { RemoteEntry } from '../../ports/remote-files.js'
import { isReply } from './ftp-errors.js'
import { parseListDate } from './list-dates.js'
import { childPath } from './paths.js'

interface StatSupport {
  mlst: boolean
  size: boolean
  /** SIZE answers for a directory too, so a SIZE answer alone does not mean a file. */
  sizeOfDirectories: boolean
}

/** What the server offers for looking at one path, asked once per connection. */
const statSupport = new WeakMap<Client, StatSupport>()

function entryFromInfo(dir: string, info: FileInfo, now: number): RemoteEntry {
  return {
    path: childPath(dir, info.name),
    name: info.name,
    type: info.isDirectory ? 'directory' : info.isFile ? 'file' : 'other',
    size: info.size,
    modifiedAt: info.modifiedAt?.getTime() ?? parseListDate(info.rawModifiedAt, now) ?? 0,
  }
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

/** Lists `dir` through CWD: some servers answer LIST of a missing path with an empty listing. */
export async function listDir(client: Client, dir: string): Promise<RemoteEntry[] | null> {
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
export async function exists(client: Client, path: string): Promise<boolean> {
  return (await statEntry(client, path, false)) !== null
}

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
export async function statEntry(client: Client, path: string, withTime = true): Promise<RemoteEntry | null> {
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

export async function isDirectory(client: Client, dir: string): Promise<boolean> {
  try {
    await client.cd(dir)
    return true
  } catch (error) {
    if (isReply(error)) return false
    throw error
  }
}
