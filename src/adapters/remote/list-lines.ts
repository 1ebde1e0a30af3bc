/**
 * LIST and MLSD lines end in CRLF (RFC 959 §4.1.3, RFC 3659 §7.2), but a
 * file name may hold a bare LF or CR, and basic-ftp splits a listing at
 * every LF: `a\nb.pdf` came out as an entry `a` and a lost line `b.pdf`.
 * Splitting at CRLF only keeps such a name whole, so it can be reported.
 */
import type { FileInfo } from 'basic-ftp'

/** Stands in for a line break inside a name while the line is parsed; NUL is in no file name. */
const HELD = '\u0000'

export function parseListKeepingLineBreaks(
  rawList: string,
  parse: (rawList: string) => FileInfo[],
): FileInfo[] {
  // A server that ends its lines with a bare LF leaves no way to tell a break in a name apart.
  if (!rawList.includes('\r\n')) return parse(rawList)
  const lines = rawList
    .split('\r\n')
    .map((line) => line.replace(/[\r\n]/g, (c) => `${HELD}${c === '\r' ? 'r' : 'n'}`))
  return parse(lines.join('\n')).map((info) => {
    if (info.name.includes(HELD))
      // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the stand-in put there above
      info.name = info.name.replace(/\u0000([rn])/g, (_, c) => (c === 'r' ? '\r' : '\n'))
    return info
  })
}
