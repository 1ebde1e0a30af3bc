/**
 * Figure 5: the HTTP API under load (autocannon, in this process) against a
 * bare Fastify route answering 202 (bench/bare-server.ts), each server in its
 * own child process, in the same run:
 *   POST /v1/exports, immediate delivery: every request is a new durable job
 *     (no Idempotency-Key), which the service then runs in the same process
 *     (its S-Drive query finds no file on the record, so it ends there);
 *   POST /v1/exports, delivery window: the same request for a flow whose
 *     window is months away, so the job is only stored: the accept path alone;
 *   POST /v1/outbound-messages/{flow}: a SOAP notification with a new
 *     notification id each time (a repeated id would be answered as a
 *     duplicate), each one a job like the first case.
 *
 *   npx tsx bench/http.ts                 # 20 s per target (issue 6)
 *   BENCH_HTTP_SECONDS=5 npx tsx bench/http.ts
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import autocannon, { type Result } from 'autocannon'
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import {
  API_KEY,
  configFor,
  isMain,
  log,
  printTable,
  type Row,
  type ServiceChild,
  seconds,
  spawnService,
} from './lib.js'

const ORG = '00D000000000001AAA'
const OM_SECRET = 'om-secret-0123456789abcdef'
const CONNECTIONS = 10

function envelope(recordId: string, notificationId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${ORG}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/63.0/${ORG}</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/63.0/${ORG}</PartnerUrl>
   <Notification><Id>${notificationId}</Id><sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>${recordId}</sf:Id></sObject></Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`
}

/** 04l + a 12-digit base-36 counter + AAA: a new 18-character notification id per call. */
function notificationIds(): { next(): string; count(): number } {
  let n = 0
  return {
    next: () => `04l${(n++).toString(36).toUpperCase().padStart(12, '0')}AAA`,
    count: () => n,
  }
}

async function startBare(): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-server.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })
  let url = ''
  for await (const line of lines) {
    url = (JSON.parse(line) as { url: string }).url
    break
  }
  return {
    url,
    async close() {
      child.kill('SIGTERM')
      if (child.exitCode === null) await once(child, 'exit')
    },
  }
}

const show = (r: Result) =>
  `${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms` +
  (r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : '')

/** Waits until no export job is queued or running; returns how long that took. */
async function settle(svc: ServiceChild): Promise<number> {
  const started = Date.now()
  const deadline = started + 180_000
  for (;;) {
    const [queued, running] = await Promise.all([
      svc.api('GET', '/v1/jobs?state=queued&limit=1'),
      svc.api('GET', '/v1/jobs?state=running&limit=1'),
    ])
    if (queued.jobs.length === 0 && running.jobs.length === 0) return (Date.now() - started) / 1000
    if (Date.now() > deadline)
      throw new Error('the service did not finish its export jobs within 180 s of the load')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

export async function benchHttp(durationSeconds: number): Promise<{ rows: Row[]; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-bench-http-'))
  // Every immediate job and outbound message queries S-Drive once: tens of thousands of calls in a
  // run, past the sandbox's default 24-hour quota of 15,000, after which jobs pause (as they should
  // against a real org at its limit) and the figures would measure the pause.
  const sandbox = await startSalesforceSandbox({ dailyApiLimit: 100_000_000 })
  const opp = sandbox.insert('Opportunity', { Name: 'Load', StageName: 'Closed Won' })
  const source = {
    object: 'Opportunity',
    fileObject: 'cg__OpportunityFile__c',
    parentField: 'cg__Opportunity__c',
  }
  // The destination is never reached: the record has no files, so each job ends after its S-Drive query.
  const svc = await spawnService(
    configFor(sandbox, dir, {
      queue: { maxQueuedItems: 1_000_000, maxActiveRuns: 1_000_000 },
      endpoints: {
        nowhere: { protocol: 'ftp', host: '127.0.0.1', port: 9, username: 'u', password: 'p' },
      },
      flows: [
        {
          name: 'load',
          kind: 'outbound',
          source,
          destination: { endpoint: 'nowhere', directory: '/out' },
          outboundMessages: { organizationIds: [ORG], secret: OM_SECRET },
        },
        {
          name: 'load-window',
          kind: 'outbound',
          source,
          destination: { endpoint: 'nowhere', directory: '/out' },
          // 1 January, 03:00: months away in any run of this bench but one night a year.
          window: { cron: '0 3 1 1 *', timezone: 'UTC' },
        },
      ],
    }),
    dir,
  )
  const bare = await startBare()
  const run = (
    label: string,
    url: string,
    headers: Record<string, string>,
    body: string | (() => string),
  ): Promise<Result> => {
    log(`http: ${label}, ${durationSeconds} s`)
    const next = typeof body === 'string' ? undefined : body
    return autocannon({
      url,
      method: 'POST',
      headers,
      connections: CONNECTIONS,
      duration: durationSeconds,
      ...(next
        ? { requests: [{ setupRequest: (request) => ({ ...request, body: next() }) }] }
        : { body: body as string }),
    })
  }
  try {
    const json = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }
    const bareResult = await run(
      'bare 202 route',
      `${bare.url}/bare`,
      { 'content-type': 'application/json' },
      '{}',
    )
    // The accept path alone first: its jobs wait for the window, so nothing runs behind it.
    const windowResult = await run(
      'POST /v1/exports (window)',
      `${svc.url}/v1/exports`,
      json,
      JSON.stringify({ flow: 'load-window', recordIds: [opp] }),
    )
    const exportsResult = await run(
      'POST /v1/exports',
      `${svc.url}/v1/exports`,
      json,
      JSON.stringify({ flow: 'load', recordIds: [opp] }),
    )
    // The jobs accepted above are still running: the next figure must not share the service with them.
    const drainSeconds = await settle(svc)
    const ids = notificationIds()
    const omResult = await run(
      'POST /v1/outbound-messages/load',
      `${svc.url}/v1/outbound-messages/load?secret=${OM_SECRET}`,
      { 'content-type': 'text/xml; charset=utf-8', SOAPAction: '""' },
      () => envelope(opp, ids.next()),
    )
    const row = (figure: string, r: Result): Row => [
      `5 ${figure}, ${CONNECTIONS} conns, ${durationSeconds} s`,
      show(r),
      show(bareResult),
      (r.requests.average / bareResult.requests.average).toFixed(2),
    ]
    return {
      rows: [
        row('POST /v1/exports (job runs at once)', exportsResult),
        row('POST /v1/exports (job waits for its window)', windowResult),
        row('POST /v1/outbound-messages/{flow}, new id each', omResult),
      ],
      notes: [
        `HTTP load: autocannon ${durationSeconds} s per target, ${CONNECTIONS} connections, in the bench process; the service logs every request at info level as in production, the bare route logs nothing`,
        `outbound messages: ${ids.count()} requests, each with its own notification id, so each is a new job`,
        `order: bare route, windowed exports (stored only), immediate exports, then ${drainSeconds.toFixed(1)} s until the service had run every job they left queued, then outbound messages`,
      ],
    }
  } finally {
    await svc.close()
    await bare.close()
    await sandbox.close()
    await rm(dir, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) {
  const t0 = process.hrtime.bigint()
  const { rows, notes } = await benchHttp(Number(process.env.BENCH_HTTP_SECONDS ?? 20))
  printTable(rows)
  for (const n of notes) process.stdout.write(`- ${n}\n`)
  process.stdout.write(`total ${seconds(t0).toFixed(0)} s\n`)
}
