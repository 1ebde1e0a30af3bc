/**
 * Content-Disposition for the S3 form. S-Drive's policy requires the value to
 * start with `attachment; filename`, so the quoted ASCII form always comes
 * first; names outside plain ASCII (or with quotes/backslashes) add an
 * RFC 6266 / RFC 5987 `filename*` with the exact UTF-8 name.
 */

/** Printable ASCII except the two characters that need escaping inside a quoted-string. */
const safeAscii = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/

/** Replaces anything that cannot stand in a quoted-string with `_`; keeps length recognisable. */
export function asciiFallback(name: string): string {
  const replaced = Array.from(name.normalize('NFKD'))
    .filter((c) => !/\p{M}/u.test(c)) // drop combining marks so "é" becomes "e", not "_"
    .map((c) => (safeAscii.test(c) ? c : '_'))
    .join('')
  return replaced.length > 0 ? replaced : 'file'
}

/** RFC 5987 attr-char percent-encoding (encodeURIComponent leaves ' ( ) * unencoded, which attr-char forbids). */
export function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  )
}

export function contentDisposition(fileName: string): string {
  if (safeAscii.test(fileName) && fileName.length > 0) return `attachment; filename="${fileName}"`
  return `attachment; filename="${asciiFallback(fileName)}"; filename*=UTF-8''${encodeRfc5987(fileName)}`
}
