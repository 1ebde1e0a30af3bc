/**
 * SIGTERM: the service stops taking requests, lets the transfer in flight
 * finish, leaves the files it had not started pending (not failed), exits
 * 0; the next start finishes them. A second signal exits at once.
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

const FILES = 40

async function startChild(configPath: string, env: Record<string, string>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, ...env, BRIDGE_CONFIG: configPath, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg?: string; url?: string }
    if (entry.msg === 'sdrive-ftp-bridge listening' && entry.url) {
      lines.on('line', () => {})
      return { proc, url: entry.url }
    }
  }
  throw new Error('child exited before listening')
}

async function exitOf(proc: ChildProcess): Promise<number | null> {
  const [code] = (await once(proc, 'exit')) as [number | null]
  return code
}

t.test('SIGTERM drains; a second signal forces the exit', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-shutdown-'))
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
    await writeFile(path, Buffer.alloc(256 * 1024, i))
    await utimes(path, old, old)
  }
  const config = {
    server: { host: '127.0.0.1', port: 0, apiKeys: ['${BRIDGE_API_KEY}'], shutdownGraceMs: 20_000 },
    queue: { maxConcurrentTransfers: 1 },
    store: { sqlitePath: join(dir, 'bridge.sqlite') },
    salesforce: {
      loginUrl: sandbox.url,
      auth: { type: 'client_credentials', clientId: sandbox.clientId, clientSecret: '${SF_CLIENT_SECRET}' },
    },
    sdrive: { s3UploadUrl: sandbox.s3UploadUrl },
    endpoints: { partner: { ...endpointConfig('sftp', remote), maxConnections: 1 } },
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
      },
    ],
  }
  const configPath = join(dir, 'bridge.json')
  await writeFile(configPath, JSON.stringify(config))
  const env = { BRIDGE_API_KEY: API_KEY, REMOTE_PASSWORD, SF_CLIENT_SECRET: sandbox.clientSecret }
  const api = async (url: string, method: string, path: string) => {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${API_KEY}` } })
    return (await res.json()) as any
  }

  const first = await startChild(configPath, env)
  const { runId } = await api(first.url, 'POST', '/v1/flows/bulk/runs')
  while ((sandbox.calls.s3 ?? 0) < 3) await new Promise((resolve) => setImmediate(resolve))
  first.proc.kill('SIGTERM')
  t.equal(await exitOf(first.proc), 0, 'SIGTERM: clean exit after draining')
  const afterDrain = sandbox.records('cg__AccountFile__c')
  t.equal(
    afterDrain.filter((r) => r.cg__WIP__c === true).length,
    0,
    'the transfer in flight finished: no WIP left',
  )
  const delivered = afterDrain.filter((r) => r.cg__WIP__c === false).length
  t.ok(delivered > 0 && delivered < FILES, `stopped part-way (${delivered} of ${FILES})`)

  const second = await startChild(configPath, env)
  let run: any
  for (;;) {
    run = await api(second.url, 'GET', `/v1/runs/${runId}`)
    if (!['queued', 'running'].includes(run.state)) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.equal(run.state, 'succeeded', 'the next start finished the run')
  t.equal(run.counts.failed, 0, 'nothing was marked failed by the shutdown')
  const all = sandbox.records('cg__AccountFile__c').filter((r) => r.cg__WIP__c === false)
  t.equal(all.length, FILES, 'every file exactly once')
  t.equal(new Set(all.map((r) => r.cg__File_Name__c)).size, FILES)
  t.same(await readdir(join(remoteRoot, 'inbox')), [])
  second.proc.kill('SIGTERM')
  t.equal(await exitOf(second.proc), 0)

  // A second signal does not wait for the drain.
  const slow = await startChild(configPath, env)
  for (let i = 0; i < 5; i++) {
    const path = join(remoteRoot, 'inbox', `ACME-001_late-${i}.pdf`)
    await writeFile(path, Buffer.alloc(256 * 1024, i))
    await utimes(path, old, old)
  }
  const uploadsBefore = sandbox.calls.s3 ?? 0
  await api(slow.url, 'POST', '/v1/flows/bulk/runs')
  while ((sandbox.calls.s3 ?? 0) <= uploadsBefore) await new Promise((resolve) => setImmediate(resolve))
  slow.proc.kill('SIGTERM')
  slow.proc.kill('SIGINT')
  t.equal(await exitOf(slow.proc), 1, 'a second signal during the drain exits at once with 1')
})
