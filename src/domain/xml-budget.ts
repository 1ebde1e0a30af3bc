/**
 * A bounded pre-scan of an XML document: one forward pass over the text
 * (every step moves forward, so the cost is linear in its length) that counts
 * elements, attributes per element, namespace declarations and nesting depth,
 * and stops at the first count beyond its limit. It runs before a full parse,
 * so a document built to make the parser (or what is done with its output)
 * expensive is refused having cost one partial scan and no allocation.
 *
 * It is a counter, not a validator: well-formedness is the parser's job. It
 * is conservative where they could differ: every start tag outside comments,
 * CDATA and processing instructions counts, so the parser never sees more
 * elements, attributes or depth than were counted here.
 */

export interface XmlBudget {
  /** Size of the text, in UTF-8 bytes. */
  maxBytes: number
  /** Elements in the whole document (CDATA sections count as elements). */
  maxElements: number
  /** Attributes on one element (namespace declarations included). */
  maxAttributesPerElement: number
  /** `xmlns` / `xmlns:p` declarations in the whole document. */
  maxNamespaceDeclarations: number
  /** Nesting depth (the root element is depth 1). */
  maxDepth: number
}

export interface XmlScan {
  elements: number
  namespaceDeclarations: number
  maxDepth: number
  /** Text up to the next `<` after the first start tag with `captureLocalName`, if asked for and found. */
  captured: string | undefined
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r'])

/**
 * Scans `xml` against `budget`; `fail` builds the caller's error from a
 * message (it must return, not throw, so this stays the one place that throws).
 */
export function scanXmlBudget(
  xml: string,
  budget: XmlBudget,
  fail: (message: string) => Error,
  captureLocalName?: string,
): XmlScan {
  // A UTF-8 byte is at least one UTF-16 unit's worth of text: a string this long is too big already.
  if (xml.length > budget.maxBytes || Buffer.byteLength(xml, 'utf8') > budget.maxBytes) {
    throw fail(`document larger than ${budget.maxBytes} bytes`)
  }
  const scan: XmlScan = { elements: 0, namespaceDeclarations: 0, maxDepth: 0, captured: undefined }
  let depth = 0
  let i = 0
  for (;;) {
    const lt = xml.indexOf('<', i)
    if (lt === -1) return scan
    if (xml.startsWith('<!--', lt)) i = skipPast(xml, '-->', lt + 4, 'comment', fail)
    else if (xml.startsWith('<![CDATA[', lt)) {
      // The parser makes a node of each CDATA section: they count as elements.
      countElement(scan, budget, fail)
      i = skipPast(xml, ']]>', lt + 9, 'CDATA section', fail)
    } else if (xml.startsWith('<?', lt)) i = skipPast(xml, '?>', lt + 2, 'processing instruction', fail)
    else if (xml.startsWith('<!', lt)) throw fail('markup declarations are not allowed')
    else if (xml[lt + 1] === '/') {
      depth--
      i = skipPast(xml, '>', lt + 2, 'end tag', fail)
    } else {
      const tag = scanStartTag(xml, lt, budget, scan, fail)
      // An empty element (<x/>) is as deep as one with content, it only closes at once.
      if (depth + 1 > budget.maxDepth) throw fail(`elements nested deeper than ${budget.maxDepth} levels`)
      scan.maxDepth = Math.max(scan.maxDepth, depth + 1)
      if (!tag.selfClosing) {
        depth++
        if (scan.captured === undefined && captureLocalName !== undefined) {
          const colon = tag.name.indexOf(':')
          if (tag.name.slice(colon + 1) === captureLocalName) {
            const next = xml.indexOf('<', tag.end)
            scan.captured = xml.slice(tag.end, next === -1 ? xml.length : next)
          }
        }
      }
      i = tag.end
    }
  }
}

function countElement(scan: XmlScan, budget: XmlBudget, fail: (message: string) => Error): void {
  scan.elements++
  if (scan.elements > budget.maxElements) throw fail(`more than ${budget.maxElements} elements`)
}

function skipPast(
  xml: string,
  terminator: string,
  from: number,
  what: string,
  fail: (message: string) => Error,
): number {
  const end = xml.indexOf(terminator, from)
  if (end === -1) throw fail(`malformed XML: unterminated ${what}`)
  return end + terminator.length
}

/** Reads one start tag from `<` at `lt`; counts it and its attributes. Returns the index after its `>`. */
function scanStartTag(
  xml: string,
  lt: number,
  budget: XmlBudget,
  scan: XmlScan,
  fail: (message: string) => Error,
): { name: string; end: number; selfClosing: boolean } {
  countElement(scan, budget, fail)
  let i = lt + 1
  while (i < xml.length && !WHITESPACE.has(xml[i] as string) && xml[i] !== '>' && xml[i] !== '/') i++
  const name = xml.slice(lt + 1, i)
  if (name === '') throw fail('malformed XML: a "<" that starts no tag')
  let attributes = 0
  for (;;) {
    while (i < xml.length && WHITESPACE.has(xml[i] as string)) i++
    if (i >= xml.length) throw fail(`malformed XML: unterminated start tag ${clip(name)}`)
    if (xml[i] === '>') return { name, end: i + 1, selfClosing: false }
    if (xml.startsWith('/>', i)) return { name, end: i + 2, selfClosing: true }
    const nameStart = i
    while (i < xml.length && xml[i] !== '=' && xml[i] !== '>' && !WHITESPACE.has(xml[i] as string)) i++
    const attribute = xml.slice(nameStart, i)
    while (i < xml.length && WHITESPACE.has(xml[i] as string)) i++
    const quote = xml[i] === '=' ? nextQuote(xml, i) : undefined
    if (quote === undefined) {
      throw fail(`malformed XML: attribute ${clip(attribute)} of ${clip(name)} has no quoted value`)
    }
    i = skipPast(xml, quote.char, quote.at + 1, 'attribute value', fail)
    attributes++
    if (attributes > budget.maxAttributesPerElement) {
      throw fail(`element ${clip(name)} has more than ${budget.maxAttributesPerElement} attributes`)
    }
    if (attribute === 'xmlns' || attribute.startsWith('xmlns:')) {
      scan.namespaceDeclarations++
      if (scan.namespaceDeclarations > budget.maxNamespaceDeclarations) {
        throw fail(`more than ${budget.maxNamespaceDeclarations} namespace declarations`)
      }
    }
  }
}

/** The opening quote after `=` at `eq` (whitespace allowed between), or undefined. */
function nextQuote(xml: string, eq: number): { char: string; at: number } | undefined {
  let i = eq + 1
  while (i < xml.length && WHITESPACE.has(xml[i] as string)) i++
  const char = xml[i]
  return char === '"' || char === "'" ? { char, at: i } : undefined
}

function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}…` : value
}
