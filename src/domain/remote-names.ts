/**
 * Names for files the bridge writes to a recipient's server. Template output
 * (record fields, S-Drive file names) is untrusted: it must stay one path
 * segment, must not climb out of the target directory, and must fit the
 * 255-byte name limit that ext4, XFS, NTFS and most FTP servers share.
 */
import { posix } from 'node:path'
import { BridgeError } from './errors.js'

export const MAX_SEGMENT_BYTES = 255

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what we replace
const UNSAFE = /[/\\\u0000-\u001f\u007f-\u009f]/g
/** Half of a surrogate pair without its other half: not encodable as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
/** An extension longer than this is part of the name, not something worth keeping whole. */
const MAX_EXTENSION_BYTES = 32
/** Stands in for a name with nothing usable left, when the replacement is empty. */
const FALLBACK = '_'

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

const byteLength = (text: string) => Buffer.byteLength(text, 'utf8')

/**
 * The longest prefix of `text` that fits in `maxBytes` of UTF-8, cut between
 * user-perceived characters, so an emoji sequence or an accent is never split.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text
  let kept = ''
  let used = 0
  for (const { segment } of graphemes.segment(text)) {
    const size = byteLength(segment)
    if (used + size > maxBytes) break
    kept += segment
    used += size
  }
  return kept
}

function assertReplacement(replacement: string): void {
  if (
    replacement.replace(UNSAFE, '') !== replacement ||
    replacement === '.' ||
    replacement === '..' ||
    byteLength(replacement) > 4
  ) {
    throw new BridgeError(
      'VALIDATION_FAILED',
      `replacement ${JSON.stringify(replacement)} is itself unsafe in a remote name`,
    )
  }
}

/** Windows-hosted servers drop trailing dots and spaces, so `a.` and `a` would meet there. */
const trimEnd = (text: string) => text.replace(/[. ]+$/, '')

/**
 * One safe path segment: `/`, `\`, NUL and other control characters become
 * `replacement`; trailing dots and spaces go (so `.` and `..` cannot survive);
 * at most 255 UTF-8 bytes, shortened before the extension; never empty.
 */
export function sanitizeRemoteSegment(name: string, replacement = '_'): string {
  assertReplacement(replacement)
  // One spelling for what looks the same (macOS hands out decomposed names).
  const cleaned = trimEnd(
    name.normalize('NFC').replace(LONE_SURROGATE, replacement).replace(UNSAFE, replacement),
  )
  const fitted = byteLength(cleaned) <= MAX_SEGMENT_BYTES ? cleaned : shorten(cleaned)
  if (fitted !== '') return fitted
  return replacement === '' ? FALLBACK : replacement
}

function shorten(name: string): string {
  const ext = posix.extname(name)
  const keepExtension = ext !== '' && byteLength(ext) <= MAX_EXTENSION_BYTES
  if (!keepExtension) return trimEnd(truncateUtf8(name, MAX_SEGMENT_BYTES))
  const stem = trimEnd(truncateUtf8(name.slice(0, -ext.length), MAX_SEGMENT_BYTES - byteLength(ext)))
  return `${stem}${ext}`
}

/**
 * An absolute path with every segment sanitised: empty and `.` segments
 * collapse, and `..` cannot climb (it becomes the replacement, a plain name),
 * so the result lies below `/` exactly where the template put it.
 */
export function sanitizeRemotePath(path: string, replacement = '_'): string {
  if (!path.startsWith('/')) {
    throw new BridgeError('VALIDATION_FAILED', `remote path must be absolute: ${JSON.stringify(path)}`)
  }
  const segments = path
    .split('/')
    .filter((segment) => segment !== '' && segment !== '.')
    .map((segment) => sanitizeRemoteSegment(segment, replacement))
  return `/${segments.join('/')}`
}
