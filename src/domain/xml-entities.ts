/**
 * Entity decoding for XML parsed with entity processing off (fast-xml-parser
 * `processEntities: false`, DTDs refused before parsing): the predefined
 * entities and numeric references, decoded in one pass so nothing expands
 * twice. Shared by the Outbound Message listener and status files.
 */
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

/** Decodes `&…;` references; `fail` builds the caller's error from a message naming `where`. */
export function decodeXmlEntities(text: string, where: string, fail: (message: string) => Error): string {
  if (!text.includes('&')) return text
  return text.replace(/&([^;&\s]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw fail(`${where}: a bare "&" must be written &amp;`)
    const predefined = PREDEFINED[ref]
    if (predefined !== undefined) return predefined
    const numeric = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(ref)
    if (numeric) {
      const code = numeric[1] !== undefined ? Number.parseInt(numeric[1], 16) : Number(numeric[2])
      if (isXmlChar(code)) return String.fromCodePoint(code)
      throw fail(`${where}: character reference ${whole} is not an XML character`)
    }
    throw fail(`${where}: undeclared entity ${whole.length > 40 ? `${whole.slice(0, 40)}…` : whole}`)
  })
}

function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  )
}
