/**
 * Figure 5: the HTTP API under load (autocannon, in this process) against a
 * bare Fastify route answering 202 (bench/bare-server.ts), each in its own
 * child process, in the same run:
 *   POST /v1/exports (a durable job insert in SQLite each time; every request
 *     is a new job, no Idempotency-Key) and
 *   POST /v1/outbound-messages/{flow} (a SOAP notification → a job).
 *
 *   npx tsx bench/http.ts                 # 10 s per target
 *   BENCH_HTTP_SECONDS=20 npx tsx bench/http.ts
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import { API_KEY, configFor, isMain, printTable, type Row, seconds, spawnService } from './lib.js'

const ORG = '00D000000000001AAA'
const OM_SECRET = 'om-secret-0123456789abcdef'

function envelope(recordId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${ORG}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/63.0/${ORG}</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/63.0/${ORG}</PartnerUrl>
   <Notification><Id>04l000000000001AAA</Id><sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>${recordId}</sf:Id></sObject></Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`
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

export async function benchHttp(durationSeconds: number): Promise<{ rows: Row[]; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-bench-http-'))
  const sandbox = await startSalesforceSandbox()
  const opp = sandbox.insert('Opportunity', { Name: 'Load', StageName: 'Closed Won' })
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
          source: {
            object: 'Opportunity',
            fileObject: 'cg__OpportunityFile__c',
            parentField: 'cg__Opportunity__c',
          },
          destination: { endpoint: 'nowhere', directory: '/out' },
          outboundMessages: { organizationIds: [ORG], secret: OM_SECRET },
        },
      ],
    }),
    dir,
  )
  const bare = await startBare()
  const connections = 10
  const run = (url: string, headers: Record<string, string>, body: string) =>
    autocannon({ url, method: 'POST', headers, body, connections, duration: durationSeconds })
  try {
    const exportsResult = await run(
      `${svc.url}/v1/exports`,
      { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      JSON.stringify({ flow: 'load', recordIds: [opp] }),
    )
    const omResult = await run(
      `${svc.url}/v1/outbound-messages/load?secret=${OM_SECRET}`,
      { 'content-type': 'text/xml; charset=utf-8', SOAPAction: '""' },
      envelope(opp),
    )
    const bareResult = await run(`${bare.url}/bare`, { 'content-type': 'application/json' }, '{}')
    const show = (r: Awaited<ReturnType<typeof autocannon>>) =>
      `${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms` +
      (r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : '')
    const rows: Row[] = [
      [
        `5 POST /v1/exports, ${connections} conns, ${durationSeconds} s`,
        show(exportsResult),
        show(bareResult),
        (exportsResult.requests.average / bareResult.requests.average).toFixed(2),
      ],
      [
        `5 POST /v1/outbound-messages/{flow}, ${connections} conns, ${durationSeconds} s`,
        show(omResult),
        show(bareResult),
        (omResult.requests.average / bareResult.requests.average).toFixed(2),
      ],
    ]
    return {
      rows,
      notes: [`HTTP load: autocannon ${durationSeconds} s per target, ${connections} connections`],
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
  const { rows, notes } = await benchHttp(Number(process.env.BENCH_HTTP_SECONDS ?? 10))
  printTable(rows)
  for (const n of notes) process.stdout.write(`- ${n}\n`)
  process.stdout.write(`total ${seconds(t0).toFixed(0)} s\n`)
}
