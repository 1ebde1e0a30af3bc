/**
 * Salesforce API calls per file for an inbound run of many small files
 * spread over a few records, counted by the sandbox, against the naive
 * count (one lookup + one S-Drive create + one finalize per file).
 *
 *   npx tsx bench/api-calls.ts            # 1000 files over 10 accounts
 *   BENCH_FILES=200 BENCH_RECORDS=4 npx tsx bench/api-calls.ts
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../src/config/load.js'
import { createLogger } from '../src/logging/logger.js'
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import { startSftpServer } from '../src/sandbox/sftp-server.js'
import { startServer } from '../src/server.js'

const files = Number(process.env.BENCH_FILES ?? 1000)
const records = Number(process.env.BENCH_RECORDS ?? 10)
const dir = await mkdtemp(join(tmpdir(), 'bridge-apicalls-'))
const root = join(dir, 'remote')
await mkdir(join(root, 'inbox'), { recursive: true })
const old = (Date.now() - 3600_000) / 1000
for (let i = 0; i < files; i++) {
  const path = join(root, 'inbox', `ACCT-${i % records}_doc-${i}.pdf`)
  await writeFile(path, `document ${i}`)
  await utimes(path, old, old)
}
const sandbox = await startSalesforceSandbox()
for (let r = 0; r < records; r++)
  sandbox.insert('Account', { Name: `Account ${r}`, AccountNumber: `ACCT-${r}` })
const sftp = await startSftpServer({ root, users: [{ username: 'p', password: 'p' }] })
const config = {
  server: { host: '127.0.0.1', port: 0, apiKeys: ['bench-api-key-0123456789'] },
  queue: { maxConcurrentTransfers: 4 },
  store: { sqlitePath: join(dir, 'bridge.sqlite') },
  salesforce: {
    loginUrl: sandbox.url,
    auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
  },
  sdrive: { s3UploadUrl: sandbox.s3UploadUrl },
  endpoints: {
    p: {
      protocol: 'sftp',
      host: sftp.host,
      port: sftp.port,
      username: 'p',
      password: 'p',
      hostKeySha256: sftp.hostKeySha256,
      maxConnections: 4,
    },
  },
  flows: [
    {
      name: 'bulk',
      kind: 'inbound',
      source: { endpoint: 'p', directory: '/inbox' },
      readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
      match: [{ type: 'filename', pattern: '^(?<AccountNumber>ACCT-\\d+)_', object: 'Account' }],
      target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
      after: { success: 'move', processedDirectory: '/done', errorDirectory: '/errors' },
    },
  ],
}
const server = await startServer(
  parseConfig(JSON.stringify(config), 'json', {}),
  createLogger({ level: 'warn' }),
  {
    schedules: false,
  },
)
const before = sandbox.apiCallCount()
const t0 = process.hrtime.bigint()
const { run } = await server.bridge.engine.startRun('bulk', { trigger: 'api' })
await server.bridge.engine.settled(run.id)
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
const counts = await server.bridge.store.runCounts(run.id)
const calls = sandbox.apiCallCount() - before
await server.close()
await sftp.close()
await sandbox.close()
await rm(dir, { recursive: true, force: true })

const naive = files * 3
const rows: [string, string][] = [
  ['files / records', `${files} / ${records}`],
  ['files done', String(counts.done)],
  ['run time', `${seconds.toFixed(1)} s (${(files / seconds).toFixed(0)} files/s)`],
  ['Salesforce API calls (sandbox count, token excluded)', String(calls)],
  ['calls per file', (calls / files).toFixed(4)],
  ['naive calls (lookup + create + finalize per file)', String(naive)],
  ['ratio to naive', (calls / naive).toFixed(4)],
]
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(54)} ${v}\n`)
if (counts.done !== files || calls / files >= 0.05) process.exitCode = 1
