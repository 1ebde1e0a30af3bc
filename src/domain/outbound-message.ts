/**
 * Salesforce Outbound Messages (SOAP 1.1): parsing the `notifications`
 * envelope and the two answers the listener gives (the Ack, a Fault).
 * Pure: text in, values out; the route does the HTTP.
 *
 * Entities. The parser runs with `processEntities: false`, so it expands
 * nothing, and any `<!DOCTYPE` (or `<!ENTITY`) is refused before parsing:
 * without a DTD no entity can be declared, so billion-laughs and external
 * entities have nothing to stand on. The five predefined entities and
 * numeric character references are then decoded here, one pass, no
 * recursion; any other `&name;` is an error (undeclared, so not well-formed).
 *
 * Namespaces. Salesforce writes `soapenv:` but other senders (and proxies
 * that re-serialise) use `soap:`, `SOAP-ENV:` or default namespaces, so
 * elements are matched by namespace URI + local name after resolving the
 * prefixes in scope, never by the prefix text. A scope is a link to its
 * parent plus the element's own declarations (shared, never copied), so
 * resolving costs the depth, not the number of prefixes declared above.
 *
 * Budget. Before anything is parsed, one linear pre-scan (xml-budget.ts)
 * refuses an envelope beyond OUTBOUND_MESSAGE_BUDGET: its size, elements,
 * attributes per element, namespace declarations and depth. Salesforce's own
 * messages are far inside it (depth 6, four declarations on the root and one
 * per sObject, 3 + fields elements per notification).
 */

import { XMLParser } from 'fast-xml-parser'
import { BridgeError } from './errors.js'
import { scanXmlBudget, type XmlBudget } from './xml-budget.js'
import { decodeXmlEntities } from './xml-entities.js'

export const SOAP_ENVELOPE_NS = 'http://schemas.xmlsoap.org/soap/envelope/'
export const OUTBOUND_NS = 'http://soap.sforce.com/2005/09/outbound'
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance'
const XML_NS = 'http://www.w3.org/XML/1998/namespace'

/** The WSDL's maxOccurs for Notification. */
export const MAX_NOTIFICATIONS = 100

/**
 * What one envelope may hold. The route passes the server's body limit as
 * maxBytes. 10,000 elements is 100 notifications of ~95 fields each; the
 * parser needs some 10-40 µs an element, so this also bounds how long one
 * envelope can hold the event loop.
 */
export const OUTBOUND_MESSAGE_BUDGET: Readonly<XmlBudget> = Object.freeze({
  maxBytes: 1_048_576,
  maxElements: 10_000,
  maxAttributesPerElement: 50,
  maxNamespaceDeclarations: 1_000,
  maxDepth: 32,
})

export interface OutboundNotification {
  /** The notification id: the same across redeliveries, so it is the dedupe key. */
  id: string
  /** The sObject's type from xsi:type, without its prefix ('Case' from 'sf:Case'). */
  sObjectType: string
  /** Field API name → value; null for xsi:nil. Holds a valid `Id` unless recordId is null. */
  fields: Record<string, string | null>
  /**
   * The record's id; null when Salesforce sent the notification without data
   * (the record was deleted before delivery). Such a notification is still
   * acknowledged: failing the message would block the others in it for 24 h.
   */
  recordId: string | null
}

export interface OutboundMessage {
  organizationId: string
  actionId: string
  /** Present only when the outbound message has "Send Session ID" on. */
  sessionId: string | null
  enterpriseUrl: string
  partnerUrl: string
  notifications: OutboundNotification[]
}

/** A Salesforce id: 15 (case-sensitive) or 18 (case-safe) alphanumerics. */
const SALESFORCE_ID = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_]*$/
const HTTP_URL = /^https?:\/\/\S+$/

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Values stay text: ids like 000123 or "1e5" must not turn into numbers.
  parseTagValue: false,
  parseAttributeValue: false,
  // Whitespace in a field value is data; ids and URLs are trimmed where read.
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // CDATA kept apart: its text is literal and must not be entity-decoded.
  cdataPropName: '#cdata',
})

/** Parsed element with its namespace resolved. */
interface XmlElement {
  namespace: string | undefined
  localName: string
  /** Attributes by qualified name as written, values decoded (a Map: names are input, not keys to trust). */
  attributes: ReadonlyMap<string, string>
  /** Prefix → namespace URI in scope at this element ('' is the default namespace). */
  scope: Scope
  children: XmlElement[]
  /** Concatenated text content (decoded text and literal CDATA) of this element only. */
  text: string
}

/** Namespace declarations of one element, linked to the scope it is in; shared by every element below it. */
interface Scope {
  parent: Scope | undefined
  declared: ReadonlyMap<string, string>
}

function resolvePrefix(scope: Scope, prefix: string): string | undefined {
  for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
    const namespace = s.declared.get(prefix)
    if (namespace !== undefined) return namespace
  }
  return undefined
}

type RawNode = Record<string, unknown>

function invalid(message: string): BridgeError {
  return new BridgeError('VALIDATION_FAILED', message)
}

/**
 * The budget check and the envelope's `OrganizationId` text (trimmed), without
 * parsing: one linear scan, so the route can refuse an oversized envelope or
 * a foreign organization before any expensive work. Undefined when there is
 * no such element (the full parse then says what is missing).
 */
export function screenOutboundMessage(
  xml: string,
  budget: Readonly<XmlBudget> = OUTBOUND_MESSAGE_BUDGET,
): { organizationId: string | undefined } {
  if (typeof xml !== 'string' || xml.trim() === '') throw invalid('empty body: expected a SOAP envelope')
  // No legitimate outbound message carries a DTD; refusing it outright is the XXE/billion-laughs defence.
  if (/<!\s*(?:DOCTYPE|ENTITY)/i.test(xml)) throw invalid('a DOCTYPE or ENTITY declaration is not allowed')
  const fail = (message: string) =>
    invalid(message.startsWith('malformed XML') ? message : `envelope: ${message}`)
  const scan = scanXmlBudget(xml, budget, fail, 'OrganizationId')
  if (scan.captured === undefined) return { organizationId: undefined }
  try {
    return { organizationId: decodeXmlEntities(scan.captured, 'OrganizationId', invalid).trim() }
  } catch {
    // Not decodable: the full parse reports it.
    return { organizationId: undefined }
  }
}

export function parseOutboundMessage(
  xml: string,
  budget: Readonly<XmlBudget> = OUTBOUND_MESSAGE_BUDGET,
): OutboundMessage {
  screenOutboundMessage(xml, budget)
  let nodes: unknown
  try {
    nodes = parser.parse(xml, true)
  } catch (error) {
    throw invalid(`malformed XML: ${(error as Error).message}`)
  }
  const roots = toElements(nodes, { parent: undefined, declared: new Map([['xml', XML_NS]]) }, 'document')
  if (roots.length !== 1) throw invalid(`expected one root element, found ${roots.length}`)
  const envelope = roots[0] as XmlElement
  if (envelope.localName !== 'Envelope' || envelope.namespace !== SOAP_ENVELOPE_NS) {
    throw invalid(
      `root element must be a SOAP 1.1 Envelope (${SOAP_ENVELOPE_NS}), found ${describe(envelope)}`,
    )
  }
  const body = only(envelope, SOAP_ENVELOPE_NS, 'Body', 'Envelope')
  if (body === undefined) throw invalid('Envelope: missing Body element')
  const notifications = only(body, OUTBOUND_NS, 'notifications', 'Body')
  if (notifications === undefined) {
    throw invalid(`Body: missing notifications element (${OUTBOUND_NS})`)
  }

  const organizationId = requiredId(notifications, 'OrganizationId')
  const actionId = requiredId(notifications, 'ActionId')
  const enterpriseUrl = requiredUrl(notifications, 'EnterpriseUrl')
  const partnerUrl = requiredUrl(notifications, 'PartnerUrl')
  const session = childNamed(notifications, 'SessionId', 'notifications')
  const sessionText = session === undefined || isNil(session) ? '' : leafText(session, 'SessionId').trim()

  const items = notifications.children.filter((c) => c.localName === 'Notification')
  if (items.length === 0) throw invalid('notifications: no Notification element')
  if (items.length > MAX_NOTIFICATIONS) {
    throw invalid(
      `notifications: ${items.length} Notification elements, at most ${MAX_NOTIFICATIONS} allowed`,
    )
  }

  return {
    organizationId,
    actionId,
    sessionId: sessionText === '' ? null : sessionText,
    enterpriseUrl,
    partnerUrl,
    notifications: items.map((item, i) => parseNotification(item, `Notification[${i + 1}]`)),
  }
}

function parseNotification(item: XmlElement, where: string): OutboundNotification {
  const idElement = childNamed(item, 'Id', where)
  if (idElement === undefined) throw invalid(`${where}: missing Id element`)
  const id = leafText(idElement, `${where}/Id`).trim()
  if (!SALESFORCE_ID.test(id)) throw invalid(`${where}/Id: "${clip(id)}" is not a 15- or 18-character id`)

  const sObject = childNamed(item, 'sObject', where)
  if (sObject === undefined) return { id, sObjectType: '', fields: {}, recordId: null }
  const typeAttribute = attributeNS(sObject, XSI_NS, 'type')
  if (typeAttribute === undefined) throw invalid(`${where}/sObject: missing xsi:type`)
  const sObjectType = typeAttribute.trim().split(':').pop() ?? ''
  if (!TYPE_NAME.test(sObjectType)) {
    throw invalid(`${where}/sObject: xsi:type "${clip(typeAttribute)}" is not an sObject type name`)
  }

  const fields: Record<string, string | null> = {}
  for (const field of sObject.children) {
    const path = `${where}/sObject/${field.localName}`
    // API names start with a letter; this also keeps "__proto__" and friends out of the record.
    if (!TYPE_NAME.test(field.localName)) throw invalid(`${path}: not a field API name`)
    if (Object.hasOwn(fields, field.localName)) throw invalid(`${path}: field appears more than once`)
    fields[field.localName] = isNil(field) ? null : leafText(field, path)
  }
  const recordId = fields.Id?.trim()
  if (recordId === undefined || recordId === '') return { id, sObjectType, fields, recordId: null }
  if (!SALESFORCE_ID.test(recordId)) {
    throw invalid(`${where}/sObject/Id: "${clip(recordId)}" is not a 15- or 18-character id`)
  }
  fields.Id = recordId
  return { id, sObjectType, fields, recordId }
}

function requiredId(parent: XmlElement, name: string): string {
  const element = childNamed(parent, name, 'notifications')
  if (element === undefined || isNil(element)) throw invalid(`notifications: missing ${name} element`)
  const value = leafText(element, name).trim()
  if (!SALESFORCE_ID.test(value)) throw invalid(`${name}: "${clip(value)}" is not a 15- or 18-character id`)
  return value
}

function requiredUrl(parent: XmlElement, name: string): string {
  const element = childNamed(parent, name, 'notifications')
  if (element === undefined || isNil(element)) throw invalid(`notifications: missing ${name} element`)
  const value = leafText(element, name).trim()
  if (!HTTP_URL.test(value)) throw invalid(`${name}: "${clip(value)}" is not an http(s) URL`)
  return value
}

/** The single child with this namespace and local name; more than one is an error. */
function only(
  parent: XmlElement,
  namespace: string,
  localName: string,
  where: string,
): XmlElement | undefined {
  const found = parent.children.filter((c) => c.namespace === namespace && c.localName === localName)
  if (found.length > 1) throw invalid(`${where}: more than one ${localName} element`)
  return found[0]
}

/**
 * The single child with this local name. Inside `notifications` every child
 * is in the outbound namespace through the default-namespace declaration, so
 * the local name identifies it.
 */
function childNamed(parent: XmlElement, localName: string, where: string): XmlElement | undefined {
  const found = parent.children.filter((c) => c.localName === localName)
  if (found.length > 1) throw invalid(`${where}: more than one ${localName} element`)
  return found[0]
}

function leafText(element: XmlElement, where: string): string {
  if (element.children.length > 0) throw invalid(`${where}: expected text, found child elements`)
  return element.text
}

function isNil(element: XmlElement): boolean {
  const nil = attributeNS(element, XSI_NS, 'nil')?.trim()
  return nil === 'true' || nil === '1'
}

function attributeNS(element: XmlElement, namespace: string, localName: string): string | undefined {
  for (const [qualified, value] of element.attributes) {
    const colon = qualified.indexOf(':')
    // Unprefixed attributes are in no namespace, whatever the default namespace is.
    if (colon === -1) continue
    if (
      qualified.slice(colon + 1) === localName &&
      resolvePrefix(element.scope, qualified.slice(0, colon)) === namespace
    ) {
      return value
    }
  }
  return undefined
}

function describe(element: XmlElement): string {
  return element.namespace === undefined ? element.localName : `${element.localName} (${element.namespace})`
}

/** Converts the parser's preserveOrder nodes to elements, resolving namespaces on the way. */
function toElements(nodes: unknown, scope: Scope, where: string): XmlElement[] {
  const out: XmlElement[] = []
  if (!Array.isArray(nodes)) return out
  for (const node of nodes as RawNode[]) {
    const name = Object.keys(node).find((key) => key !== ':@')
    if (name === undefined || name === '#text' || name === '#cdata') continue
    const rawAttributes = (node[':@'] ?? {}) as Record<string, unknown>
    const attributes = new Map<string, string>()
    const declared = new Map<string, string>()
    for (const [key, raw] of Object.entries(rawAttributes)) {
      const qualified = key.slice('@_'.length)
      const value = decodeXmlEntities(String(raw), `${name}@${qualified}`, invalid)
      attributes.set(qualified, value)
      if (qualified === 'xmlns') declared.set('', value)
      else if (qualified.startsWith('xmlns:')) declared.set(qualified.slice('xmlns:'.length), value)
    }
    // An element that declares nothing shares its parent's scope object.
    const inner: Scope = declared.size === 0 ? scope : { parent: scope, declared }
    const colon = name.indexOf(':')
    const prefix = colon === -1 ? '' : name.slice(0, colon)
    const localName = colon === -1 ? name : name.slice(colon + 1)
    const namespace = resolvePrefix(inner, prefix) || undefined
    if (prefix !== '' && namespace === undefined) {
      throw invalid(`${where}: element ${name} uses an undeclared namespace prefix "${prefix}"`)
    }
    const content = node[name]
    out.push({
      namespace,
      localName,
      attributes,
      scope: inner,
      children: toElements(content, inner, localName),
      text: textOf(content, localName),
    })
  }
  return out
}

function textOf(content: unknown, where: string): string {
  if (!Array.isArray(content)) return ''
  let text = ''
  for (const child of content as RawNode[]) {
    if (typeof child['#text'] === 'string') text += decodeXmlEntities(child['#text'], where, invalid)
    else if (Array.isArray(child['#cdata'])) {
      for (const part of child['#cdata'] as RawNode[]) {
        if (typeof part['#text'] === 'string') text += part['#text']
      }
    }
  }
  return text
}

/** Keeps messages (which end up in logs and faults) short when the input is not. */
function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}…` : value
}

/**
 * The acknowledgement, byte for byte as the reference shows it (§6), minus
 * the line breaks there, which are only layout. No XML declaration: the
 * reference has none, Salesforce accepts it either way, and tests compare
 * this exact string.
 */
const ACK =
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
  '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>' +
  '</soapenv:Body></soapenv:Envelope>'

export function outboundAck(): string {
  return ACK
}

/**
 * A SOAP 1.1 Fault. Salesforce treats anything but the Ack as a failed
 * delivery and retries; the fault only tells a person reading the delivery
 * log why.
 */
export function soapFault(code: 'soapenv:Client' | 'soapenv:Server', message: string): string {
  return (
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENVELOPE_NS}"><soapenv:Body><soapenv:Fault>` +
    `<faultcode>${code}</faultcode><faultstring>${escapeXml(message)}</faultstring>` +
    '</soapenv:Fault></soapenv:Body></soapenv:Envelope>'
  )
}

/** Escapes text for element content or attributes; characters XML cannot carry become U+FFFD. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']|[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, (c) => {
    switch (c) {
      case '&':
        return '&amp;'
      case '<':
        return '&lt;'
      case '>':
        return '&gt;'
      case '"':
        return '&quot;'
      case "'":
        return '&apos;'
      default:
        return '\uFFFD'
    }
  })
}
