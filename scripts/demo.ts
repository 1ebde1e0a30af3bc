/**
 * `npm run demo`: the sandbox (Salesforce + S-Drive + S3), a local SFTP
 * server with sample partner files, and the service on its embedded SQLite
 * default; one run is triggered over HTTP and its outcome printed per file.
 * Then it keeps serving (the flow is also scheduled every minute) until Ctrl-C.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { parseConfig } from '../src/config/load.js'
import { toId18 } from '../src/domain/record-ids.js'
import { createLogger } from '../src/logging/logger.js'
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import { startSftpServer } from '../src/sandbox/sftp-server.js'
import { startServer } from '../src/server.js'

const home = resolve(process.env.DEMO_DIR ?? '.demo')
await rm(home, { recursive: true, force: true })
const remoteRoot = join(home, 'partner-sftp')
await mkdir(join(remoteRoot, 'inbox'), { recursive: true })

// Product_File__c, Campaign_File__c, Quote_File__c: customer-made S-Drive file objects (parent field Parent__c).
const sandbox = await startSalesforceSandbox({
  fileObjects: ['Product_File__c', 'Campaign_File__c', 'Quote_File__c'],
  pubsub: true,
})
// The Platform Event the kit's record-triggered Flow publishes; defined before the service subscribes to it.
const EXPORT_EVENT = '/event/SDrive_Export__e'
sandbox.pubsub!.define(EXPORT_EVENT, ['Record_Id__c', 'Requested_By__c'])
sandbox.insert('Product2', { Name: 'Widget 100', ProductCode: 'WIDGET-100' })
sandbox.insert('Campaign', { Name: 'Spring 2027', Status: 'Planned' })
const quote = sandbox.insert('Quote', { Name: 'Globex widgets', QuoteNumber: '00000042', Status: 'Draft' })
const acme = sandbox.insert('Account', { Name: 'Acme Corp', AccountNumber: 'ACME-001' })
const globex = sandbox.insert('Account', { Name: 'Globex', AccountNumber: 'GLOBEX-7' })
const deal = toId18(
  sandbox.insert('Opportunity', { Name: 'Globex renewal', StageName: 'Closed Won' }).slice(0, 15),
)

const password = randomBytes(12).toString('base64url')
const sftp = await startSftpServer({ root: remoteRoot, users: [{ username: 'partner', password }] })

const hourAgo = (Date.now() - 3600_000) / 1000
const samples: [string, string, boolean][] = [
  ['inbox/ACME-001_master-services-agreement.pdf', 'matched by name: AccountNumber ACME-001', true],
  ['inbox/accounts/GLOBEX-7/invoice-2026-11.pdf', 'matched by folder: accounts/GLOBEX-7', true],
  [`inbox/signed-order-form ${deal}.pdf`, 'matched by the Opportunity id in its name', true],
  ['inbox/UNKNOWN-42_certificate.pdf', 'no account UNKNOWN-42: goes to /errors with a reason file', true],
  ['inbox/ACME-001_still-uploading.pdf', 'modified just now: waits until it is 30 s old', false],
]
/** The product catalogue: a spec sheet and a brochure for Product2 WIDGET-100 (a new edition comes later). */
const catalogue = (name: string, text: string) =>
  [`catalogue/${name}`, text, true] as [string, string, boolean]
samples.push(
  catalogue('WIDGET-100_spec-sheet_en.pdf', 'spec sheet, first edition'),
  catalogue('WIDGET-100_brochure_de.pdf', 'Broschüre'),
)
/** A distributor's batch folder: two product images, a campaign brochure, a quote's price list, and its index. */
const batch = (name: string) =>
  [`catalogue-batches/spring-2027/${name}`, name, true] as [string, string, boolean]
samples.push(
  batch('widget-front.jpg'),
  batch('widget-side.jpg'),
  batch('spring-brochure.pdf'),
  batch('globex-price-list.pdf'),
  batch('not-listed.jpg'),
)
const batchIndex = [
  'File,SKU,Campaign,QuoteId,Type,Caption',
  'widget-front.jpg,WIDGET-100,,,image,Widget from the front',
  'widget-side.jpg,WIDGET-100,,,image,Widget from the side',
  'spring-brochure.pdf,,Spring 2027,,brochure,Spring campaign brochure',
  `globex-price-list.pdf,,,${quote},price-list,Prices for Globex`,
  'widget-back.jpg,WIDGET-100,,,image,Widget from the back',
].join('\n')
for (const [path, text, old] of samples) {
  const full = join(remoteRoot, path)
  await mkdir(dirname(full), { recursive: true })
  await writeFile(full, `%PDF-1.4\n% demo document: ${text}\n`)
  if (old) await utimes(full, hourAgo, hourAgo)
}
const indexPath = join(remoteRoot, 'catalogue-batches', 'spring-2027', 'index.csv')
await writeFile(indexPath, `${batchIndex}\n`)
await utimes(indexPath, hourAgo, hourAgo)

const apiKey = `demo-${randomBytes(16).toString('hex')}`
const config = {
  server: { host: '127.0.0.1', port: Number(process.env.PORT ?? 8080), apiKeys: ['${BRIDGE_API_KEY}'] },
  store: { sqlitePath: join(home, 'bridge.sqlite') },
  salesforce: {
    loginUrl: sandbox.url,
    auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: '${SF_CLIENT_SECRET}' },
    // The sandbox's Pub/Sub API is plaintext gRPC on 127.0.0.1; Salesforce's is TLS on api.pubsub.salesforce.com:7443.
    pubsub: { endpoint: sandbox.pubsub!.endpoint, tls: false },
  },
  sdrive: { s3UploadUrl: sandbox.s3UploadUrl },
  endpoints: {
    'partner-sftp': {
      protocol: 'sftp',
      host: sftp.host,
      port: sftp.port,
      username: 'partner',
      password: '${PARTNER_SFTP_PASSWORD}',
      hostKeySha256: sftp.hostKeySha256,
    },
  },
  flows: [
    {
      name: 'partner-contracts',
      kind: 'inbound',
      description: 'Partner drop → Account / Opportunity files in S-Drive',
      source: { endpoint: 'partner-sftp', directory: '/inbox', include: ['**/*.pdf'], recursive: true },
      readiness: { mode: 'stable', stableSeconds: 1, minAgeSeconds: 30 },
      match: [
        { type: 'folder', template: 'accounts/{AccountNumber}', object: 'Account' },
        { type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' },
        {
          type: 'recordId',
          object: 'Opportunity',
          target: { fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
        },
      ],
      target: {
        fileObject: 'cg__AccountFile__c',
        parentField: 'cg__Account__c',
        description: 'Received from partner via {flow} on {date}',
      },
      existing: 'skip',
      after: { success: 'move', processedDirectory: '/processed', errorDirectory: '/errors' },
      schedule: { cron: '* * * * *', timezone: 'UTC' },
    },
    {
      name: 'product-catalogue',
      kind: 'inbound',
      description: 'Manufacturer drop → Product2 files; a file dropped again becomes a new version',
      source: { endpoint: 'partner-sftp', directory: '/catalogue', include: ['*.pdf'] },
      readiness: { mode: 'stable', stableSeconds: 1, minAgeSeconds: 30 },
      match: [
        {
          type: 'filename',
          pattern: '^(?<ProductCode>[A-Z]+-\\d+)_(?<type>[a-z-]+)_(?<lang>[a-z]{2})\\.pdf$',
          object: 'Product2',
          lookup: ['ProductCode'],
        },
      ],
      target: {
        fileObject: 'Product_File__c',
        parentField: 'Parent__c',
        fields: { Tags__c: '{type}, {lang}', Description__c: '{type} of {ProductCode} ({lang})' },
      },
      existing: 'version',
      after: {
        success: 'move',
        processedDirectory: '/catalogue-processed',
        errorDirectory: '/catalogue-errors',
      },
    },
    {
      name: 'catalogue-batches',
      kind: 'inbound',
      description: 'Distributor batch folders with an index.csv → Product2, Campaign and Quote files',
      source: {
        endpoint: 'partner-sftp',
        directory: '/catalogue-batches',
        recursive: true,
        include: ['**/*.jpg', '**/*.pdf'],
      },
      readiness: { mode: 'stable', stableSeconds: 1, minAgeSeconds: 30 },
      index: { required: true, fileColumn: 'File' },
      // One index names products, a campaign and a quote: an empty key cell leaves the row to the next rule.
      match: [
        { type: 'index', object: 'Product2', key: { ProductCode: '{index.SKU}' } },
        {
          type: 'index',
          object: 'Campaign',
          key: { Name: '{index.Campaign}' },
          target: { fileObject: 'Campaign_File__c', parentField: 'Parent__c' },
        },
        {
          type: 'index',
          object: 'Quote',
          key: { Id: '{index.QuoteId}' },
          target: { fileObject: 'Quote_File__c', parentField: 'Parent__c' },
        },
      ],
      target: {
        fileObject: 'Product_File__c',
        parentField: 'Parent__c',
        fields: { Tags__c: '{index.Type}', Description__c: '{index.Caption}' },
      },
      existing: 'version',
      after: {
        success: 'move',
        processedDirectory: '/catalogue-batches-processed',
        errorDirectory: '/catalogue-batches-errors',
      },
    },
    {
      name: 'event-exports',
      kind: 'outbound',
      description:
        'An SDrive_Export__e Platform Event (Pub/Sub API, no inbound call) → the Account files to the partner',
      source: { object: 'Account', fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
      destination: { endpoint: 'partner-sftp', directory: '/exports', existing: 'overwrite' },
      trigger: {
        pubsub: { topic: EXPORT_EVENT, recordIdField: 'Record_Id__c', metadataFields: ['Requested_By__c'] },
      },
    },
  ],
  // The unmatched file makes the run partially failed: one signed webhook message to the sandbox's
  // receiver and one email the org is asked to send (emailSimple), both listed in the outbox.
  notifications: {
    channels: {
      'ops-hook': { type: 'webhook', url: sandbox.webhookUrl('ops'), secret: '${HOOK_SECRET}' },
      admins: { type: 'salesforceEmail', to: ['ops@example.com'] },
    },
    rules: [
      { on: ['run.failed', 'run.partially_failed', 'file.failed'], flows: ['*'], channel: 'ops-hook' },
      { on: ['file.failed'], flows: ['partner-contracts'], channel: 'admins' },
    ],
  },
}
const env = {
  BRIDGE_API_KEY: apiKey,
  SF_CLIENT_SECRET: sandbox.clientSecret,
  PARTNER_SFTP_PASSWORD: password,
  HOOK_SECRET: randomBytes(24).toString('base64url'),
}
const configPath = join(home, 'bridge.json')
await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`)

const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' })
let server: Awaited<ReturnType<typeof startServer>>
try {
  server = await startServer(parseConfig(JSON.stringify(config), 'json', env), logger)
} catch (error) {
  if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
  config.server.port = 0
  server = await startServer(parseConfig(JSON.stringify(config), 'json', env), logger)
}

const api = async (method: string, path: string) => {
  const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${apiKey}` } })
  return (await res.json()) as any
}

const out = (line = '') => process.stdout.write(`${line}\n`)

/** Prints the run's server-sent progress events as one live line until the run ends. */
async function followProgress(runId: string): Promise<void> {
  const res = await fetch(`${server.url}/v1/runs/${runId}/events`, {
    headers: { authorization: `Bearer ${apiKey}` },
  })
  let buffer = ''
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += Buffer.from(chunk).toString('utf8')
    for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
      const data = /^data: (.+)$/m.exec(buffer.slice(0, cut))?.[1]
      buffer = buffer.slice(cut + 2)
      if (!data) continue
      const p = JSON.parse(data)
      const eta = p.etaSeconds === null ? '…' : `${p.etaSeconds}s`
      process.stdout.write(
        `\r  progress: ${p.filesDone}/${p.filesTotal} files, ${p.bytesDone}/${p.bytesTotal} bytes, ${p.filesFailed} failed, ETA ${eta}   `,
      )
    }
  }
  process.stdout.write('\n')
}
/** Waits for the first job of an event-triggered flow to end (no handle to await: the event started it). */
async function exportJobOf(flow: string): Promise<any> {
  const until = Date.now() + 120_000
  for (;;) {
    const { jobs } = await api('GET', `/v1/jobs?flow=${flow}`)
    const id = jobs?.[0]?.id
    const job = id ? await api('GET', `/v1/jobs/${id}`) : null
    if (
      job &&
      ['succeeded', 'failed', 'partially_failed', 'cancelled', 'nothing_to_export'].includes(job.state)
    )
      return job
    if (Date.now() > until) throw new Error(`no finished ${flow} job after 120 s: ${JSON.stringify(job)}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}
out(`sdrive-ftp-bridge demo — service at ${server.url}`)
out(`  sandbox org:   ${sandbox.url}   (Salesforce + S-Drive + S3 emulator)`)
out(`  partner SFTP:  sftp://partner@${sftp.host}:${sftp.port}/  host key ${sftp.hostKeySha256}`)
out(`  files on disk: ${remoteRoot}`)
out(`  config:        ${configPath}`)
out()
out('Dry run (POST /v1/flows/partner-contracts/runs?dryRun=true):')
const plan = await api('POST', '/v1/flows/partner-contracts/runs?dryRun=true')
for (const f of plan.files) out(`  ${f.action.padEnd(8)} ${f.path}${f.reason ? `  — ${f.reason}` : ''}`)
out()
out('Run (POST /v1/flows/partner-contracts/runs):')
const started = await api('POST', '/v1/flows/partner-contracts/runs')
await followProgress(started.runId)
const run = await api('GET', `/v1/runs/${started.runId}`)
const names = new Map([
  [acme.slice(0, 15), 'Account Acme Corp'],
  [globex.slice(0, 15), 'Account Globex'],
  [deal.slice(0, 15), 'Opportunity Globex renewal'],
])
for (const item of run.items) {
  const where =
    item.state === 'done'
      ? `→ ${names.get(String(item.targetRecordId).slice(0, 15)) ?? item.targetRecordId} (S-Drive file ${item.sdriveFileId}, sha256 ${String(item.sha256).slice(0, 12)}…), source moved to ${item.finalPath}`
      : `${item.errorCode}: ${item.errorMessage}; moved to ${item.finalPath}`
  out(`  ${item.state.padEnd(7)} ${item.path}\n          ${where}`)
}
for (const note of run.notes) out(`  waiting ${note.path}\n          ${note.message}`)
out(`  run ${run.id}: ${run.state} (${run.counts.done} done, ${run.counts.failed} failed)`)
out()
out('Notifications (the unmatched file):')
await Promise.all([sandbox.waitForWebhooks(1, 'ops'), sandbox.waitForEmails(1)])
const [hook] = sandbox.webhookDeliveries('ops')
out(`  webhook → ${sandbox.webhookUrl('ops')}: ${JSON.parse(hook?.body ?? '{}').text}`)
out(
  `          signed ${hook?.headers['x-bridge-signature']} (HMAC-SHA256 of timestamp.body with HOOK_SECRET)`,
)
const [email] = sandbox.emails()
out(`  email   → ${email?.to.join(', ')} (sent by the org through emailSimple): ${email?.subject}`)
out()
out('Product catalogue (existing: version, file fields from the name):')
const catalogueRun = async (label: string) => {
  const { runId } = await api('POST', '/v1/flows/product-catalogue/runs')
  await followProgress(runId)
  const r = await api('GET', `/v1/runs/${runId}`)
  for (const item of r.items) {
    const what = item.errorCode === 'UNCHANGED' ? 'unchanged, no version made' : item.state
    const versionOf = item.versionOf.length > 0 ? `, new version of ${item.versionOf.join(', ')}` : ''
    out(`  ${label}: ${item.name} → ${what} (S-Drive file ${item.sdriveFileId}${versionOf})`)
  }
}
await catalogueRun('first drop')
const specPath = join(remoteRoot, 'catalogue', 'WIDGET-100_spec-sheet_en.pdf')
const dropSpec = async (text: string, ageSeconds: number) => {
  await writeFile(specPath, `%PDF-1.4\n% demo document: ${text}\n`)
  const at = (Date.now() - ageSeconds * 1000) / 1000
  await utimes(specPath, at, at)
}
await dropSpec('spec sheet, second edition', 3000)
await catalogueRun('new edition')
await dropSpec('spec sheet, second edition', 2400)
await catalogueRun('same bytes again')
for (const f of sandbox.records('Product_File__c').filter((r) => r.WIP__c === false)) {
  out(
    `  ${f.File_Name__c}: latest ${f.Is_Latest_Version__c}, Tags__c "${f.Tags__c}", Description__c "${f.Description__c}"`,
  )
}
out()
out("Catalogue batch with an index (index.csv names each file's record and fields):")
{
  const { runId } = await api('POST', '/v1/flows/catalogue-batches/runs')
  await followProgress(runId)
  const r = await api('GET', `/v1/runs/${runId}`)
  for (const item of r.items) {
    const where = item.targetObject ? `${item.targetObject} ${item.targetRecordId}` : item.errorCode
    out(`  ${item.name} → ${item.state} (${where})`)
  }
  for (const b of r.batches ?? []) {
    out(`  batch ${b.folder}: ${b.rows} index rows, done ${b.done}, failed ${b.failed}`)
    out(
      `    not in the index: ${b.notInIndex.join(', ') || 'none'}; rows without a file: ${b.missing.map((m: { file: string }) => m.file).join(', ') || 'none'}`,
    )
    out(`    result file on the server: ${b.resultPath}`)
  }
}
out()
out(`Export triggered by a Platform Event (Pub/Sub API over gRPC, ${EXPORT_EVENT}):`)
{
  // The subscription starts at LATEST: an event published before it is open is not the service's to read.
  while (sandbox.pubsub!.subscribers(EXPORT_EVENT) === 0) await new Promise((r) => setTimeout(r, 50))
  const [replayId] = sandbox.pubsub!.publish(EXPORT_EVENT, [{ Record_Id__c: acme, Requested_By__c: 'demo' }])
  out(`  published {Record_Id__c: ${acme}} (Account Acme Corp), replay id ${replayId}`)
  const job = await exportJobOf('event-exports')
  out(`  job ${job.id}: ${job.state} (trigger ${job.trigger}, records ${job.recordIds.join(', ')})`)
  for (const f of job.files) {
    out(
      `  ${f.state.padEnd(7)} ${f.name} → sftp ${f.remotePath}, ${f.size} bytes (sha256 ${String(f.sha256).slice(0, 12)}…)`,
    )
  }
}
out()
out('Try:')
out(`  export KEY=${apiKey}`)
out(`  curl -s -H "Authorization: Bearer $KEY" ${server.url}/v1/runs/${run.id}`)
out(`  curl -s -H "Authorization: Bearer $KEY" ${server.url}/metrics | grep bridge_`)
out(`  curl -s -H "Authorization: Bearer $KEY" ${server.url}/v1/notifications    (the outbox)`)
out(
  `  curl -s ${sandbox.url}/sandbox/webhooks    curl -s ${sandbox.url}/sandbox/emails    (what the sandbox received)`,
)
out(`  Swagger UI: ${server.url}/docs    OpenAPI: ${server.url}/openapi.json`)
out(`  Console: ${server.url}/console    (sign in with the key above)`)
out('The flow also runs every minute: the still-uploading file is taken once it is 30 s old. Ctrl-C stops.')

const stop = async () => {
  await server.close()
  await sftp.close()
  await sandbox.close()
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
