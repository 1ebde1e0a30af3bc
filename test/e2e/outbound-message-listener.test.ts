/**
 * The Outbound Message listener against the service running as its own
 * process (real sockets, its own heap and RSS): a hostile envelope is refused
 * fast without growing the process and without stalling /healthz, and the
 * WSDL's maximum of 100 notifications is acknowledged quickly.
 */
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { type ChildService, childSetup, exitCodeOf } from '../support/child-service.js'
import { OPPORTUNITY_SOURCE } from '../support/harness.js'

const ORG = '00D000000000001AAA'
const OM_SECRET = 'om-secret-0123456789abcdef'

function outboundFlow(endpoint: string) {
  return {
    name: 'contracts',
    kind: 'outbound',
    source: { ...OPPORTUNITY_SOURCE },
    destination: { endpoint, directory: '/outbox', fileName: '{Name}_{file.name}' },
    outboundMessages: { organizationIds: [ORG], secret: OM_SECRET },
  }
}

function envelope(notifications: { id: string; recordId: string }[], org = ORG): string {
  return (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>' +
    '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">' +
    `<OrganizationId>${org}</OrganizationId><ActionId>04k000000000001AAA</ActionId>` +
    '<SessionId xsi:nil="true"/>' +
    `<EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/63.0/${org}</EnterpriseUrl>` +
    `<PartnerUrl>https://example.my.salesforce.com/services/Soap/u/63.0/${org}</PartnerUrl>` +
    notifications
      .map(
        (n) =>
          `<Notification><Id>${n.id}</Id><sObject xsi:type="sf:Opportunity" ` +
          `xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>${n.recordId}</sf:Id></sObject></Notification>`,
      )
      .join('') +
    '</notifications></soapenv:Body></soapenv:Envelope>'
  )
}

/** The envelope: 5,000 prefixes on the root, 50,000 empty elements below (279 KB). */
function hostileEnvelope(): string {
  const prefixes = Array.from({ length: 5000 }, (_, i) => ` xmlns:p${i}="urn:p${i}"`).join('')
  return (
    `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"${prefixes}>` +
    `<soapenv:Body>${'<a/>'.repeat(50_000)}</soapenv:Body></soapenv:Envelope>`
  )
}

async function soap(child: ChildService, body: string) {
  const started = performance.now()
  const res = await fetch(`${child.url}/v1/outbound-messages/contracts?secret=${OM_SECRET}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', SOAPAction: '""' },
    body,
    // The unfixed parser takes minutes and gigabytes on the hostile envelope: fail instead of waiting.
    signal: AbortSignal.timeout(20_000),
  })
  return { status: res.status, text: await res.text(), ms: performance.now() - started }
}

/** The child's resident set, from the kernel (what an operator's RSS graph shows). */
async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1])
  return kb / 1024
}

/** Asks /healthz one after another until `stop` resolves; returns every answer's latency. */
async function pollHealth(child: ChildService, stop: Promise<unknown>): Promise<number[]> {
  let done = false
  void stop.finally(() => {
    done = true
  })
  const latencies: number[] = []
  while (!done) {
    const started = performance.now()
    const res = await fetch(`${child.url}/healthz`, { signal: AbortSignal.timeout(20_000) })
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`)
    latencies.push(performance.now() - started)
  }
  return latencies
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number

t.test('the listener in a running service', async (t) => {
  const setup = await childSetup(t, { flows: (endpoint) => [outboundFlow(endpoint)] })
  const child = await setup.start()
  t.teardown(async () => {
    child.proc.kill('SIGKILL')
    await exitCodeOf(child.proc)
  })
  const pid = child.proc.pid as number
  const recordIds = Array.from({ length: 101 }, (_, i) =>
    setup.sandbox.insert('Opportunity', { Name: `Deal ${i}`, StageName: 'Closed Won' }),
  )
  const notificationId = (i: number) => `04l${String(i).padStart(15, '0')}`

  const hostile = hostileEnvelope()
  // Warm-up: the first requests compile the route and the scan and let V8 size its young
  // generation (up to 2 x 16 MB of semi-spaces, whatever the request); RSS is measured from here.
  // Ten were not always enough since the service loads more at start (console, notifications):
  // growth over the next ten was 10.7–27.3 MB after ten, −1.0–9.2 MB after thirty (a step, not a leak).
  for (let i = 0; i < 30; i++) t.equal((await soap(child, hostile)).status, 400)

  t.test('the 279 KB hostile envelope: 400 in < 100 ms, RSS + ≤ 20 MB, /healthz answering', async (t) => {
    t.ok(hostile.length > 270_000 && hostile.length < 330_000, `${hostile.length} bytes`)
    const rssBefore = await rssMb(pid)
    const answers: Awaited<ReturnType<typeof soap>>[] = []
    for (let i = 0; i < 5; i++) answers.push(await soap(child, hostile))
    // Then again, with /healthz asked all the while.
    const attack = (async () => {
      for (let i = 0; i < 5; i++) answers.push(await soap(child, hostile))
    })()
    const health = await pollHealth(child, attack)
    await attack
    const rssAfter = await rssMb(pid)
    for (const answer of answers) {
      t.equal(answer.status, 400)
      t.match(answer.text, /<faultcode>soapenv:Client<\/faultcode>.*more than 50 attributes/)
    }
    const ms = answers.slice(0, 5).map((a) => a.ms)
    t.comment(
      `fault times ${answers.map((a) => a.ms.toFixed(1)).join(', ')} ms; RSS ${rssBefore.toFixed(1)} → ${rssAfter.toFixed(1)} MB`,
    )
    t.comment(`/healthz: ${health.length} answers, slowest ${Math.max(...health).toFixed(1)} ms`)
    // Sanity bounds, not the goal (8-50 ms and /healthz within 66 ms on a busy machine: docs/operations.md):
    // wall time across two processes also counts the slices other processes hold the cores for.
    // Before the budget the envelope took minutes and gigabytes, and /healthz waited as long.
    t.ok(median(ms) < 500, `the fault comes back in ${median(ms).toFixed(1)} ms (median of 5; bound 500 ms)`)
    t.ok(
      rssAfter - rssBefore <= 20,
      `RSS grew ${(rssAfter - rssBefore).toFixed(1)} MB over 10 envelopes (bound 20 MB)`,
    )
    t.ok(health.length > 0, '/healthz answered while the envelopes were refused')
    t.ok(Math.max(...health) < 5000, `and never took 5 s (slowest ${Math.max(...health).toFixed(1)} ms)`)
  })

  t.test('an org not on the allowlist is refused before the envelope is parsed', async (t) => {
    // Not well-formed after the org id: only a parse would find that, so a 403 (not a 400) shows
    // the org was refused before the envelope was parsed.
    const foreign = envelope(
      [{ id: notificationId(500), recordId: recordIds[1] as string }],
      '00D000000000009AAA',
    ).replace('</notifications>', '<Unclosed></notifications>')
    const answer = await soap(child, foreign)
    t.equal(answer.status, 403)
    t.match(answer.text, /organization 00D000000000009AAA is not allowed/)
    const allowedButMalformed = await soap(child, foreign.replaceAll('00D000000000009AAA', ORG))
    t.equal(allowedButMalformed.status, 400, 'from the allowed org the same envelope is a parse fault')
  })

  t.test('100 notifications (the WSDL maximum) are acknowledged fast', async (t) => {
    // In turns, 3 rounds of one message of 1 notification (what one costs on this machine right
    // now) and one of 100 (new ids each round): the fastest 100 is compared, as a burst of load on
    // a busy machine slows one round, not all three.
    const hundredOf = (round: number) =>
      Array.from({ length: 100 }, (_, i) => ({
        id: notificationId(1000 * round + i + 1),
        recordId: recordIds[i + 1] as string,
      }))
    const single: number[] = []
    const hundreds: number[] = []
    for (let round = 0; round < 3; round++) {
      const one = await soap(
        child,
        envelope([{ id: notificationId(900 + round), recordId: recordIds[0] as string }]),
      )
      t.equal(one.status, 200, 'a normal envelope is acknowledged')
      single.push(one.ms)
      const answer = await soap(child, envelope(hundredOf(round)))
      t.equal(answer.status, 200)
      t.match(answer.text, /<Ack>true<\/Ack>/)
      hundreds.push(answer.ms)
    }
    const fastest = Math.min(...hundreds)
    const ratio = fastest / median(single)
    t.comment(
      `1 notification: ${median(single).toFixed(0)} ms (median of 3); 100: ${hundreds.map((ms) => ms.toFixed(0)).join(', ')} ms (fastest ×${ratio.toFixed(1)})`,
    )
    // Recorded one at a time (two commits each) they took ~3 s here, 16× one; together, ~5× one.
    t.ok(fastest < 2000, `in ${fastest.toFixed(0)} ms (fastest of 3; bound 2,000 ms)`)
    t.ok(ratio < 10, `100 notifications cost ${ratio.toFixed(1)}× one (bound 10×)`)
    const hundred = hundredOf(0)
    const again = await soap(child, envelope(hundred))
    t.equal(again.status, 200, 'redelivered: acknowledged again')
  })
})
