/**
 * Peak memory of the service while one large file streams SFTP → service →
 * S-Drive/S3, against the service's own resting memory, plus throughput
 * against a baseline measured in the same run (the same bytes read from the
 * same SFTP server by the raw client, to /dev/null).
 *
 *   npx tsx bench/inbound-memory.ts            # 1 GiB
 *   BENCH_SIZE_MB=256 npx tsx bench/inbound-memory.ts
 *
 * The service runs in a child process so its RSS is its own; the sandbox
 * and the SFTP server run here.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import SftpClient from 'ssh2-sftp-client'
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.js'
import { startSftpServer } from '../src/sandbox/sftp-server.js'
import { serviceEntry } from './lib.js'

const MB = 1024 * 1024
const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1024)
const apiKey = 'bench-api-key-0123456789abcdef'
const password = 'bench-password'

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024
}

const dir = await mkdtemp(join(tmpdir(), 'bridge-bench-'))
const root = join(dir, 'remote')
await mkdir(join(root, 'inbox'), { recursive: true })
const file = join(root, 'inbox', 'ACME-001_big.bin')
{
  const block = Buffer.alloc(MB)
  for (let i = 0; i < MB; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i)
  const out = createWriteStream(file)
  for (let i = 0; i < sizeMb; i++) if (!out.write(block)) await once(out, 'drain')
  out.end()
  await once(out, 'finish')
  const old = (Date.now() - 3600_000) / 1000
  await utimes(file, old, old)
}

const sandbox = await startSalesforceSandbox({ maxFileSizeBytes: 6 * 1024 * MB })
sandbox.insert('Account', { Name: 'Acme', AccountNumber: 'ACME-001' })
const sftp = await startSftpServer({ root, users: [{ username: 'partner', password }] })

// Baseline: the raw client reading the same file from the same server.
const raw = new SftpClient()
await raw.connect({ host: sftp.host, port: sftp.port, username: 'partner', password })
const t0 = process.hrtime.bigint()
await pipeline(
  raw.createReadStream('/inbox/ACME-001_big.bin'),
  new Writable({
    write(_c, _e, cb) {
      cb()
    },
  }),
)
const baselineSeconds = Number(process.hrtime.bigint() - t0) / 1e9
await raw.end()

const config = {
  server: { host: '127.0.0.1', port: 0, apiKeys: [apiKey] },
  store: { sqlitePath: join(dir, 'bridge.sqlite') },
  salesforce: {
    loginUrl: sandbox.url,
    auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
  },
  sdrive: { s3UploadUrl: sandbox.s3UploadUrl },
  endpoints: {
    partner: {
      protocol: 'sftp',
      host: sftp.host,
      port: sftp.port,
      username: 'partner',
      password,
      hostKeySha256: sftp.hostKeySha256,
      operationTimeoutMs: 120_000,
    },
  },
  flows: [
    {
      name: 'bench',
      kind: 'inbound',
      source: { endpoint: 'partner', directory: '/inbox' },
      readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
      match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
      target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
      after: { success: 'keep', errorDirectory: '/errors' },
    },
  ],
}
const configPath = join(dir, 'bridge.json')
await writeFile(configPath, JSON.stringify(config))
const entry = await serviceEntry()
const child = spawn(process.execPath, entry.args, {
  env: { ...process.env, ...entry.env, BRIDGE_CONFIG: configPath, LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'inherit'],
})
let url = ''
const lines = createInterface({ input: child.stdout })
for await (const line of lines) {
  const entry = JSON.parse(line) as { url?: string }
  if (entry.url) {
    url = entry.url
    break
  }
}
lines.on('line', () => {})
const pid = child.pid as number
const api = async (method: string, path: string) =>
  (await (
    await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${apiKey}` } })
  ).json()) as any

// Warm up auth and the SFTP pool with a dry run, so resting memory includes them.
await api('POST', '/v1/flows/bench/runs?dryRun=true')
const resting = await rssOf(pid)
let peak = resting
const sampler = setInterval(() => {
  rssOf(pid).then(
    (rss) => {
      peak = Math.max(peak, rss)
    },
    () => {},
  )
}, 25)
const t1 = process.hrtime.bigint()
const { runId } = await api('POST', '/v1/flows/bench/runs')
let run: any
for (;;) {
  run = await api('GET', `/v1/runs/${runId}`)
  if (!['queued', 'running'].includes(run.state)) break
  await new Promise((r) => setTimeout(r, 100))
}
const serviceSeconds = Number(process.hrtime.bigint() - t1) / 1e9
clearInterval(sampler)

child.kill('SIGTERM')
await once(child, 'exit')
await sftp.close()
await sandbox.close()
await rm(dir, { recursive: true, force: true })

const mbps = (s: number) => (sizeMb / s).toFixed(1)
const rows = [
  ['file size', `${sizeMb} MiB`],
  ['run state', `${run.state} (sha256 ${String(run.items[0]?.sha256).slice(0, 16)}…)`],
  ['baseline: raw SFTP read → /dev/null', `${baselineSeconds.toFixed(2)} s, ${mbps(baselineSeconds)} MiB/s`],
  [
    'service: SFTP → SHA-256/MD5 → S3 POST → S-Drive',
    `${serviceSeconds.toFixed(2)} s, ${mbps(serviceSeconds)} MiB/s`,
  ],
  ['throughput ratio service / baseline', (baselineSeconds / serviceSeconds).toFixed(2)],
  ['service RSS at rest', `${(resting / MB).toFixed(1)} MiB`],
  ['service RSS peak during the run', `${(peak / MB).toFixed(1)} MiB`],
  ['peak RSS growth', `${((peak - resting) / MB).toFixed(1)} MiB (limit 100 MiB)`],
  ['growth / file size', ((peak - resting) / (sizeMb * MB)).toFixed(4)],
]
for (const [k, v] of rows) process.stdout.write(`${String(k).padEnd(50)} ${v}\n`)
if (run.state !== 'succeeded' || peak - resting > 100 * MB) process.exitCode = 1
