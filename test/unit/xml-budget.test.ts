/**
 * The bounded pre-scan on its own: what it counts, what it skips (comments,
 * CDATA content, processing instructions, quoted attribute values), and that
 * a construct left open is malformed rather than scanned to the end again.
 */
import t from 'tap'
import { scanXmlBudget, type XmlBudget } from '../../src/domain/xml-budget.js'

const roomy: XmlBudget = {
  maxBytes: 1_000_000,
  maxElements: 1000,
  maxAttributesPerElement: 10,
  maxNamespaceDeclarations: 10,
  maxDepth: 10,
}
const fail = (message: string) => new Error(message)
const scan = (xml: string, budget: Partial<XmlBudget> = {}, capture?: string) =>
  scanXmlBudget(xml, { ...roomy, ...budget }, fail, capture)

t.test('counts elements, declarations and depth', async (t) => {
  const result = scan('<r xmlns="urn:a" xmlns:b="urn:b"><b:x a="1"><y/></b:x><z></z></r>')
  t.same(result, { elements: 4, namespaceDeclarations: 2, maxDepth: 3, captured: undefined })
})

t.test('skips what is not markup', async (t) => {
  const xml =
    '<?xml version="1.0"?><r><!-- <a><b><c> --><![CDATA[<d><e>]]>' + `<f q='a > b' p="<g>"/><?pi <h> ?></r>`
  // The CDATA section counts as an element (the parser makes a node of it), its content does not.
  t.same(scan(xml), { elements: 3, namespaceDeclarations: 0, maxDepth: 2, captured: undefined })
})

t.test('captures the first element of a local name, any prefix', async (t) => {
  t.equal(scan('<r><om:Org>  00D1  </om:Org><Org>x</Org></r>', {}, 'Org').captured, '  00D1  ')
  t.equal(scan('<r><Org/></r>', {}, 'Org').captured, undefined, 'an empty element has no text to capture')
})

t.test('each limit stops the scan', async (t) => {
  t.throws(() => scan('<r><a/><b/></r>', { maxElements: 2 }), { message: 'more than 2 elements' })
  t.throws(() => scan('<r a="1" b="2"/>', { maxAttributesPerElement: 1 }), {
    message: 'element r has more than 1 attributes',
  })
  t.throws(() => scan('<r xmlns:a="1"><x xmlns:b="2"/></r>', { maxNamespaceDeclarations: 1 }), {
    message: 'more than 1 namespace declarations',
  })
  t.throws(() => scan('<a><b><c/></b></a>', { maxDepth: 2 }), {
    message: 'elements nested deeper than 2 levels',
  })
  t.throws(
    () => scan('<r>é</r>', { maxBytes: 8 }),
    { message: 'document larger than 8 bytes' },
    'bytes, not characters',
  )
  t.throws(() => scan('<r>', { maxBytes: 2 }), { message: 'document larger than 2 bytes' })
})

t.test('open constructs are malformed', async (t) => {
  for (const xml of [
    '<r><!-- x',
    '<r><![CDATA[ x',
    '<r><?pi x',
    '<r a="1',
    '<r a',
    '<r a=1>',
    '<r></r',
    '<r><>',
  ]) {
    t.throws(() => scan(xml), { message: /^malformed XML: / }, JSON.stringify(xml))
  }
  t.throws(() => scan('<!DOCTYPE r><r/>'), { message: 'markup declarations are not allowed' })
})
