import t, { type Test } from 'tap'
import {
  MAX_NOTIFICATIONS,
  outboundAck,
  parseOutboundMessage,
  soapFault,
} from '../../src/domain/outbound-message.js'

const ORG = '00D5g000004ABCDEAZ'
const ACTION = '04k5g000000KxYzAAK'
const ENTERPRISE = `https://acme.my.salesforce.com/services/Soap/c/63.0/${ORG.slice(0, 15)}`
const PARTNER = `https://acme.my.salesforce.com/services/Soap/u/63.0/${ORG.slice(0, 15)}`

/** Notification and record ids that differ per index, 18 characters each. */
const notificationId = (i: number) => `04l5g00000${String(i).padStart(5, '0')}AAA`
const caseId = (i: number) => `5005g00000${String(i).padStart(5, '0')}QAA`

function notification(i: number, fields = `<sf:Status>New</sf:Status>`): string {
  return (
    `<Notification><Id>${notificationId(i)}</Id>` +
    `<sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">` +
    `<sf:Id>${caseId(i)}</sf:Id>${fields}</sObject></Notification>`
  )
}

/** An envelope the way Salesforce sends it, with `count` notifications. */
function envelope(count = 1, session = '<SessionId xsi:nil="true"/>'): string {
  const items = Array.from({ length: count }, (_, i) => notification(i + 1)).join('')
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">' +
    `<OrganizationId>${ORG}</OrganizationId><ActionId>${ACTION}</ActionId>${session}` +
    `<EnterpriseUrl>${ENTERPRISE}</EnterpriseUrl><PartnerUrl>${PARTNER}</PartnerUrl>` +
    `${items}</notifications></soapenv:Body></soapenv:Envelope>`
  )
}

/** The reference's example (§6), ids filled in, layout kept. */
const referenceExample = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${ORG}</OrganizationId>
   <ActionId>${ACTION}</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>${ENTERPRISE}</EnterpriseUrl>
   <PartnerUrl>${PARTNER}</PartnerUrl>
   <Notification>
    <Id>${notificationId(1)}</Id>
    <sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>${caseId(1)}</sf:Id><sf:Status>New</sf:Status>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`

function rejects(t: Test, xml: string, message: RegExp, label?: string): void {
  t.throws(
    () => parseOutboundMessage(xml),
    { name: 'BridgeError', code: 'VALIDATION_FAILED', message },
    label ?? `refused with ${message}`,
  )
}

t.test('the reference example', async (t) => {
  t.same(parseOutboundMessage(referenceExample), {
    organizationId: ORG,
    actionId: ACTION,
    sessionId: null,
    enterpriseUrl: ENTERPRISE,
    partnerUrl: PARTNER,
    notifications: [
      {
        id: notificationId(1),
        sObjectType: 'Case',
        fields: { Id: caseId(1), Status: 'New' },
        recordId: caseId(1),
      },
    ],
  })
})

t.test('100 notifications, in order', async (t) => {
  const message = parseOutboundMessage(envelope(MAX_NOTIFICATIONS))
  t.equal(message.notifications.length, 100)
  t.same(
    message.notifications.map((n) => n.id),
    Array.from({ length: 100 }, (_, i) => notificationId(i + 1)),
  )
  t.same(message.notifications[99]?.fields, { Id: caseId(100), Status: 'New' })
})

t.test('more than 100 notifications are refused', async (t) => {
  rejects(t, envelope(101), /^notifications: 101 Notification elements, at most 100 allowed$/)
})

t.test('namespace prefixes do not matter, namespaces do', async (t) => {
  const expected = parseOutboundMessage(envelope(2))
  const variants: Record<string, string> = {
    'soap:': envelope(2).replace(/soapenv/g, 'soap'),
    'SOAP-ENV:': envelope(2).replace(/soapenv/g, 'SOAP-ENV'),
    'default namespace on the envelope': envelope(2)
      .replace(/soapenv:/g, '')
      .replace('xmlns:soapenv=', 'xmlns=')
      .replace(
        /<notifications xmlns="[^"]+">/,
        '<om:notifications xmlns:om="http://soap.sforce.com/2005/09/outbound">',
      )
      .replace('</notifications>', '</om:notifications>'),
    'prefixed outbound elements': envelope(2)
      .replace(
        /<(\/?)(notifications|OrganizationId|ActionId|SessionId|EnterpriseUrl|PartnerUrl|Notification|Id|sObject)\b/g,
        '<$1om:$2',
      )
      .replace('<om:notifications xmlns=', '<om:notifications xmlns:om='),
    'other sObject and xsi prefixes': envelope(2)
      .replace(/xmlns:sf=/g, 'xmlns:ns1=')
      .replace(/sf:/g, 'ns1:')
      .replace('xmlns:xsi=', 'xmlns:i=')
      .replace(/xsi:/g, 'i:'),
    'pretty-printed with CRLF and tabs': envelope(2).replace(/></g, '>\r\n\t<'),
  }
  for (const [label, xml] of Object.entries(variants)) {
    t.not(xml, envelope(2), `${label}: the variant differs from the original`)
    t.same(parseOutboundMessage(xml), expected, label)
  }
  t.same(
    parseOutboundMessage(envelope(1).replace('xsi:type="sf:Case"', 'xsi:type="Opportunity"')).notifications[0]
      ?.sObjectType,
    'Opportunity',
    'an unprefixed xsi:type',
  )
  rejects(
    t,
    envelope(1).replace(
      'http://schemas.xmlsoap.org/soap/envelope/',
      'http://www.w3.org/2003/05/soap-envelope',
    ),
    /^root element must be a SOAP 1\.1 Envelope .* found Envelope \(http:\/\/www\.w3\.org\/2003\/05\/soap-envelope\)$/,
    'a SOAP 1.2 envelope',
  )
  rejects(
    t,
    envelope(1).replace('http://soap.sforce.com/2005/09/outbound', 'http://example.com/other'),
    /^Body: missing notifications element \(http:\/\/soap\.sforce\.com\/2005\/09\/outbound\)$/,
    'notifications in another namespace',
  )
  rejects(
    t,
    envelope(1).replace(' xmlns:sf="urn:sobject.enterprise.soap.sforce.com"', ''),
    /undeclared namespace prefix "sf"/,
    'an undeclared prefix',
  )
})

t.test('whitespace, nil, entities and CDATA in values', async (t) => {
  const fields =
    '<sf:Subject>  Smith &amp; Co &lt;urgent&gt; &#x20AC;5 &#233;t&#xE9;  </sf:Subject>' +
    '<sf:Description xsi:nil="true"/>' +
    '<sf:Notes><![CDATA[a &amp; <b>]]></sf:Notes>' +
    '<sf:Empty></sf:Empty>'
  const xml = envelope(1).replace(notification(1), notification(1, fields))
  const [item] = parseOutboundMessage(xml).notifications
  t.same(item?.fields, {
    Id: caseId(1),
    Subject: '  Smith & Co <urgent> €5 été  ',
    Description: null,
    Notes: 'a &amp; <b>',
    Empty: '',
  })
  const spaced = envelope(1)
    .replace(`<Id>${notificationId(1)}</Id>`, `<Id>\n  ${notificationId(1)}\n</Id>`)
    .replace(`<sf:Id>${caseId(1)}</sf:Id>`, `<sf:Id> ${caseId(1)} </sf:Id>`)
    .replace(`<OrganizationId>${ORG}`, `<OrganizationId>\t${ORG} `)
  const message = parseOutboundMessage(spaced)
  t.equal(message.organizationId, ORG, 'ids are trimmed')
  t.equal(message.notifications[0]?.id, notificationId(1))
  t.equal(message.notifications[0]?.fields.Id, caseId(1))
  t.equal(
    parseOutboundMessage(envelope(1).replace(caseId(1), '5005g00000ABCDE')).notifications[0]?.fields.Id,
    '5005g00000ABCDE',
    '15-character ids are accepted',
  )
})

t.test('session id: nil, absent, empty or real', async (t) => {
  t.equal(parseOutboundMessage(envelope(1)).sessionId, null, 'xsi:nil')
  t.equal(parseOutboundMessage(envelope(1, '')).sessionId, null, 'absent')
  t.equal(parseOutboundMessage(envelope(1, '<SessionId></SessionId>')).sessionId, null, 'empty')
  const session = '00D5g000004ABCD!AQ0AQH0xkzPwR7hy.5_Hf1Gx9Yjq3kHZvb1dQXRDmQ2L'
  t.equal(parseOutboundMessage(envelope(1, `<SessionId>${session}</SessionId>`)).sessionId, session)
})

t.test('malformed XML', async (t) => {
  rejects(t, '', /^empty body/)
  rejects(t, '   \n', /^empty body/)
  rejects(t, 'not xml at all', /^malformed XML: /)
  rejects(t, envelope(1).replace('</soapenv:Body>', ''), /^malformed XML: /, 'an unclosed element')
  rejects(t, envelope(1).slice(0, -10), /^malformed XML: /, 'truncated')
  rejects(t, `${envelope(1)}<extra/>`, /^expected one root element, found 2$/)
  rejects(
    t,
    envelope(1).replace('<sf:Status>New', '<sf:Status>A & B'),
    /^malformed XML: char '&' is not expected/,
    'an unescaped ampersand',
  )
  rejects(t, envelope(1).replace('<sf:Status>New', '<sf:Status>&#0;'), /&#0; is not an XML character/)
  rejects(t, envelope(1).replace('<sf:Status>New', '<sf:Status>&nbsp;'), /undeclared entity &nbsp;/)
})

t.test('wrong root and missing parts name the element', async (t) => {
  rejects(t, '<html><body>hi</body></html>', /^root element must be a SOAP 1\.1 Envelope .* found html$/)
  rejects(
    t,
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header/></soapenv:Envelope>',
    /^Envelope: missing Body element$/,
  )
  rejects(
    t,
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>',
    /^Body: missing notifications element/,
  )
  rejects(
    t,
    envelope(1).replace(/<OrganizationId>.*?<\/OrganizationId>/, ''),
    /^notifications: missing OrganizationId element$/,
  )
  rejects(
    t,
    envelope(1).replace(ORG, '00D-not-an-id'),
    /^OrganizationId: "00D-not-an-id" is not a 15- or 18-character id$/,
  )
  rejects(
    t,
    envelope(1).replace(/<ActionId>.*?<\/ActionId>/, ''),
    /^notifications: missing ActionId element$/,
  )
  rejects(
    t,
    envelope(1).replace(ENTERPRISE, 'javascript:alert(1)'),
    /^EnterpriseUrl: "javascript:alert\(1\)" is not an http\(s\) URL$/,
  )
  rejects(
    t,
    envelope(1).replace(/<PartnerUrl>.*?<\/PartnerUrl>/, ''),
    /^notifications: missing PartnerUrl element$/,
  )
  rejects(t, envelope(0), /^notifications: no Notification element$/)
  rejects(
    t,
    envelope(2).replace(`<Id>${notificationId(2)}</Id>`, ''),
    /^Notification\[2\]: missing Id element$/,
  )
  rejects(
    t,
    envelope(1).replace(notificationId(1), 'short'),
    /^Notification\[1\]\/Id: "short" is not a 15- or 18-character id$/,
  )
  // A deleted record arrives as a notification without data: acknowledged, with no record id.
  const noData = parseOutboundMessage(envelope(1).replace(/<sObject[\s\S]*<\/sObject>/, ''))
  t.equal(noData.notifications[0]?.recordId, null, 'no sObject: no record id, not an error')
  const noId = parseOutboundMessage(envelope(1).replace(`<sf:Id>${caseId(1)}</sf:Id>`, ''))
  t.equal(noId.notifications[0]?.recordId, null, 'no Id field: no record id, not an error')
  rejects(
    t,
    envelope(1).replace(caseId(1), '500;DROP'),
    /^Notification\[1\]\/sObject\/Id: "500;DROP" is not a 15- or 18-character id$/,
  )
  rejects(t, envelope(1).replace(' xsi:type="sf:Case"', ''), /^Notification\[1\]\/sObject: missing xsi:type$/)
  rejects(
    t,
    envelope(1).replace('xsi:type="sf:Case"', 'xsi:type="sf:Case;DROP"'),
    /^Notification\[1\]\/sObject: xsi:type "sf:Case;DROP" is not an sObject type name$/,
  )
  rejects(
    t,
    envelope(1).replace('<sf:Status>New</sf:Status>', '<sf:Status>New</sf:Status><sf:Status>Old</sf:Status>'),
    /^Notification\[1\]\/sObject\/Status: field appears more than once$/,
  )
  rejects(
    t,
    envelope(1).replace('<sf:Status>New</sf:Status>', '<sf:Account><sf:Name>x</sf:Name></sf:Account>'),
    /^Notification\[1\]\/sObject\/Account: expected text, found child elements$/,
  )
  rejects(
    t,
    envelope(1).replace('<sf:Status>New</sf:Status>', '<sf:_hidden>x</sf:_hidden>'),
    /^Notification\[1\]\/sObject\/_hidden: not a field API name$/,
  )
  rejects(
    t,
    envelope(1).replace('<sf:Status>New</sf:Status>', '<sf:__proto__>x</sf:__proto__>'),
    /malformed XML|not a field API name/,
  )
})

t.test('entity attacks are refused before parsing', async (t) => {
  const billionLaughs =
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>' +
    envelope(1)
      .replace('<?xml version="1.0" encoding="UTF-8"?>', '')
      .replace('<sf:Status>New', '<sf:Status>&lol3;')
  rejects(t, billionLaughs, /^a DOCTYPE or ENTITY declaration is not allowed$/, 'billion laughs')
  const external =
    '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' +
    envelope(1)
      .replace('<?xml version="1.0" encoding="UTF-8"?>', '')
      .replace('<sf:Status>New', '<sf:Status>&xxe;')
  rejects(t, external, /^a DOCTYPE or ENTITY declaration is not allowed$/, 'external entity')
  rejects(
    t,
    envelope(1).replace('?>', '?><!doctype x SYSTEM "http://attacker.example/x.dtd">'),
    /DOCTYPE/,
    'lower case, external DTD',
  )
  rejects(
    t,
    envelope(1).replace('<sf:Status>New', '<sf:Status>&xxe;'),
    /undeclared entity &xxe;/,
    'an entity reference without a declaration stays an error, never a lookup',
  )
  t.equal(
    parseOutboundMessage(envelope(1).replace('<sf:Status>New', '<sf:Status>&amp;lt;&amp;amp;'))
      .notifications[0]?.fields.Status,
    '&lt;&amp;',
    'one decoding pass: an escaped reference is not decoded again',
  )
})

t.test('outboundAck is the documented Ack, byte for byte', async (t) => {
  t.equal(
    outboundAck(),
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>',
  )
  t.equal(outboundAck(), outboundAck(), 'the same every time')
})

t.test('soapFault escapes its message', async (t) => {
  t.equal(
    soapFault('soapenv:Client', `bad <Id> & "quotes" 'too'`),
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault>' +
      '<faultcode>soapenv:Client</faultcode>' +
      '<faultstring>bad &lt;Id&gt; &amp; &quot;quotes&quot; &apos;too&apos;</faultstring>' +
      '</soapenv:Fault></soapenv:Body></soapenv:Envelope>',
  )
  t.match(
    soapFault('soapenv:Server', 'store down'),
    /<faultcode>soapenv:Server<\/faultcode><faultstring>store down</,
  )
  t.match(
    soapFault('soapenv:Client', 'nul\u0000 and \uD800 lone surrogate ✓ 😀'),
    /<faultstring>nul\uFFFD and \uFFFD lone surrogate ✓ 😀<\/faultstring>/,
    'characters XML cannot carry are replaced, the rest kept',
  )
  // A fault's own text must survive a round trip through an XML parser unchanged.
  const tricky = '</faultstring><injected/>&amp;'
  const fault = soapFault('soapenv:Client', tricky)
  t.notMatch(fault, /<injected\/>/)
  t.match(fault, /&lt;\/faultstring&gt;&lt;injected\/&gt;&amp;amp;/)
})
