/**
 * A service process killed with SIGKILL in the middle of a run and started
 * again finishes the run with exactly one S-Drive file per source file and
 * every source file moved: the ledger, the item states and WIP
 * reconciliation carry it across the crash.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.js'
import { API_KEY, endpointConfig, REMOTE_PASSWORD, startRemoteServer } from '../support/harness.js'

const FILES = 120

interface Child {
  proc: ChildProcess
  url: string
}

async function startChild(configPath: string, env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, ...env, BRIDGE_CONFIG: configPath, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg?: string; url?: string }
    if (entry.msg === 'sdrive-ftp-bridge listening' && entry.url) {
      // Keep draining stdout so the child never blocks on a full pipe.
      lines.on('line', () => {})
      return { proc, url: entry.url }
    }
  }
  throw new Error('child exited before listening')
}

const api = async (child: Child, method: string, path: string) => {
  const res = await fetch(`${child.url}${path}`, { method, headers: { authorization: `Bearer ${API_KEY}` } })
  return { status: res.status, json: (await res.json()) as any }
}

t.test('SIGKILL mid-run, restart: exactly once, nothing lost', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-crash-'))
  const remoteRoot = join(dir, 'remote')
  await mkdir(join(remoteRoot, 'inbox'), { recursive: true })
  const sandbox = await startSalesforceSandbox()
  const remote = await startRemoteServer('sftp', remoteRoot)
  t.teardown(async () => {
    await remote.close()
    await sandbox.close()
    await rm(dir, { recursive: true, force: true })
  })
  sandbox.insert('Account', { Name: 'Acme', AccountNumber: 'ACME-001' })
  const old = (Date.now() - 3600_000) / 1000
  for (let i = 0; i < FILES; i++) {
    const path = join(remoteRoot, 'inbox', `ACME-001_part-${String(i).padStart(3, '0')}.pdf`)
    await writeFile(path, Buffer.alloc(64 * 1024, i))
    await utimes(path, old, old)
  }
  const config = {
    server: { host: '127.0.0.1', port: 0, apiKeys: ['${BRIDGE_API_KEY}'] },
    queue: { maxConcurrentTransfers: 2 },
    store: { sqlitePath: join(dir, 'bridge.sqlite') },
    salesforce: {
      loginUrl: sandbox.url,
      auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: '${SF_CLIENT_SECRET}' },
    },
    sdrive: { s3UploadUrl: sandbox.s3UploadUrl },
    endpoints: { partner: endpointConfig('sftp', remote) },
    flows: [
      {
        name: 'bulk',
        kind: 'inbound',
        source: { endpoint: 'partner', directory: '/inbox' },
        readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 1 },
        match: [{ type: 'filename', pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_', object: 'Account' }],
        target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
        existing: 'duplicate',
        after: { success: 'move', processedDirectory: '/processed', errorDirectory: '/errors' },
        retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 200 },
      },
    ],
  }
  const configPath = join(dir, 'bridge.json')
  await writeFile(configPath, JSON.stringify(config))
  const env = { BRIDGE_API_KEY: API_KEY, REMOTE_PASSWORD, SF_CLIENT_SECRET: sandbox.clientSecret }

  const first = await startChild(configPath, env)
  const started = await api(first, 'POST', '/v1/flows/bulk/runs')
  t.equal(started.status, 202)
  const runId = started.json.runId as string

  // Kill once a handful of uploads reached S3: the run is certainly mid-way.
  while ((sandbox.calls.s3 ?? 0) < 10) await new Promise((resolve) => setImmediate(resolve))
  first.proc.kill('SIGKILL')
  await once(first.proc, 'exit')
  const uploadedBeforeKill = sandbox.calls.s3 ?? 0
  t.ok(
    uploadedBeforeKill < FILES,
    `killed mid-run (${uploadedBeforeKill} of ${FILES} uploads had reached S3)`,
  )

  const second = await startChild(configPath, env)
  t.teardown(() => {
    second.proc.kill('SIGTERM')
  })
  let run: any
  for (;;) {
    run = (await api(second, 'GET', `/v1/runs/${runId}`)).json
    if (!['queued', 'running'].includes(run.state)) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.equal(run.state, 'succeeded')
  t.equal(run.counts.done, FILES)

  const records = sandbox.records('cg__AccountFile__c')
  const finished = records.filter((r) => r.cg__WIP__c === false && r.cg__Is_Deleted__c !== true)
  const names = finished.map((r) => String(r.cg__File_Name__c))
  t.equal(finished.length, FILES, 'one S-Drive file per source file')
  t.equal(new Set(names).size, FILES, 'no duplicates')
  t.equal(records.filter((r) => r.cg__WIP__c === true).length, 0, 'no WIP record left')
  t.same(await readdir(join(remoteRoot, 'inbox')), [], 'every source file moved')
  t.equal((await readdir(join(remoteRoot, 'processed'))).length, FILES, 'all in the processed folder')
  second.proc.kill('SIGTERM')
  const [code] = (await once(second.proc, 'exit')) as [number | null]
  t.equal(code, 0, 'SIGTERM shuts down cleanly')
})
