/**
 * File-name rules for both sides: what a remote entry may be called, what
 * S-Drive accepts, and collision-safe names for processed / error folders.
 */
import { posix } from 'node:path'
import { BridgeError } from './errors.js'

/** S-Drive refuses these in a file name (reference §1.3, rule 4). */
const SDRIVE_FORBIDDEN = /[\\/:*?"<>|~]/g
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what we strip
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/**
 * Text from a partner (a file name, a path) as it may go into Salesforce
 * metadata: C0 and C1 control characters and DEL removed. An escape sequence
 * or a NUL in an S-Drive description reaches every screen and report that
 * shows it; the file itself keeps its name on the partner's server.
 */
export function withoutControlCharacters(text: string): string {
  return text.replace(CONTROL, '')
}

/**
 * A name as listed by a remote server must be one path segment. Anything
 * else (a server returning `a/../b`, `..`, NUL) is refused, never joined.
 */
export function assertSafeEntryName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new BridgeError('INVALID_FILE_NAME', `unsafe file name from server: ${JSON.stringify(name)}`)
  }
}

/**
 * Why a listed name may not be readable by that name, or null when it is.
 * A line break cannot travel in an FTP command (and is refused in any remote
 * path here); U+FFFD is what a name that was not valid UTF-8 on the server
 * decodes to, and the server knows such a file only by its original bytes
 * (discovery asks for the path to tell it from a name that has U+FFFD).
 */
export function unreadableNameReason(name: string): string | null {
  if (/[\r\n]/.test(name)) return `the name ${JSON.stringify(name)} contains a line break`
  if (name.includes('\uFFFD')) {
    return `the name ${JSON.stringify(name)} is not valid UTF-8 on the server (shown with U+FFFD)`
  }
  return null
}

/** The name the file gets in S-Drive: forbidden characters replaced, trimmed, never empty. */
export function sdriveFileName(name: string, replacement = '_'): string {
  const cleaned = withoutControlCharacters(name).replace(SDRIVE_FORBIDDEN, replacement).trim()
  if (cleaned === '' || /^\.+$/.test(cleaned)) {
    throw new BridgeError('INVALID_FILE_NAME', `file name ${JSON.stringify(name)} has no usable characters`)
  }
  return cleaned
}

/** Joins a directory and a single entry name, refusing traversal. */
export function joinRemote(dir: string, name: string): string {
  assertSafeEntryName(name)
  return posix.join(dir, name)
}

/** Path of `path` relative to `root`, or null if it is not below root. */
export function relativeTo(root: string, path: string): string | null {
  const rel = posix.relative(posix.normalize(root), posix.normalize(path))
  if (rel === '' || rel.startsWith('..') || posix.isAbsolute(rel)) return null
  return rel
}

/**
 * A name that does not collide with `taken`: `x.pdf`, then
 * `x (run-abc 1).pdf` … so a processed folder never loses an earlier file.
 */
export function collisionSafeName(name: string, taken: ReadonlySet<string>, tag: string): string {
  if (!taken.has(name)) return name
  const ext = posix.extname(name)
  const stem = ext === '' || ext === name ? name : name.slice(0, -ext.length)
  for (let i = 1; ; i++) {
    const candidate = `${stem} (${tag}${i === 1 ? '' : ` ${i}`})${ext === name ? '' : ext}`
    if (!taken.has(candidate)) return candidate
  }
}
