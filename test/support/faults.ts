/**
 * Shared by the fault-injection end-to-end files (test/e2e/faults*.test.ts):
 * the in-process SFTP / FTP server behind the TCP fault proxy, the flows,
 * deterministic partner files and S-Drive exports, and the exactly-once checks.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Test } from 'tap'
import { SALESFORCE_FAULTS } from '../../src/sandbox/salesforce/index.js'
import { type FaultProxy, startFaultProxy } from './fault-proxy.js'
import {
  type ExternalRemoteServer,
  endpointConfig,
  type Harness,
  sdriveFiles,
  seedRecords,
  standardFlow,
  startHarness,
  startRemoteServer,
  wipRecords,
} from './harness.js'
import { seedSDriveFiles } from './sdrive-seed.js'

export type Protocol = 'sftp' | 'ftp'

const KiB = 1024
export const MiB = 1024 * KiB
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** The in-process server for `protocol`, reached by the service only through a fault proxy. */
export function behindProxy(protocol: Protocol, endpointExtra: Record<string, unknown> = {}) {
  const handle: { proxy?: FaultProxy } = {}
  const server: ExternalRemoteServer = {
    async start(root) {
      const remote = await startRemoteServer(protocol, root)
      const proxy = await startFaultProxy({
        target: { host: '127.0.0.1', port: remote.port },
        protocol: protocol === 'ftp' ? 'ftp' : 'tcp',
      })
      handle.proxy = proxy
      return {
        remote: {
          host: proxy.host,
          port: proxy.port,
          ...(remote.hostKeySha256 ? { hostKeySha256: remote.hostKeySha256 } : {}),
          async close() {
            await proxy.close()
            await remote.close()
          },
        },
        endpoint: { ...endpointConfig(protocol, remote), port: proxy.port, ...endpointExtra },
      }
    },
  }
  return {
    server,
    get proxy(): FaultProxy {
      if (!handle.proxy) throw new Error('the proxy has not started')
      return handle.proxy
    },
  }
}

export function inboundFlow(endpoint: string, overrides: Record<string, unknown> = {}) {
  return standardFlow(endpoint, {
    // Strict: a file uploaded twice would show as two S-Drive records instead of being skipped.
    existing: 'duplicate',
    retry: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 100 },
    ...overrides,
  })
}

export function exportFlow(endpoint: string, overrides: Record<string, unknown> = {}) {
  return {
    name: 'exports',
    kind: 'outbound',
    source: {
      object: 'Opportunity',
      fileObject: 'cg__OpportunityFile__c',
      parentField: 'cg__Opportunity__c',
    },
    // A second delivery of the same file would show as "<name> (<job>)" beside it.
    destination: { endpoint, directory: '/outbox/{Name}', fileName: '{file.name}', existing: 'rename' },
    retry: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 100 },
    ...overrides,
  }
}

/** Deterministic content of a given size, different for every name. */
export function content(name: string, size: number): Buffer {
  const seed = createHash('sha256').update(name).digest()
  const out = Buffer.alloc(size)
  for (let i = 0; i < size; i += seed.length) seed.copy(out, i)
  out.write(name, 0, 'latin1')
  return out
}

/** Drops `count` partner files of 16–240 KiB into /inbox; returns name → bytes. */
export async function dropInbound(h: Harness, count: number, prefix = 'doc'): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>()
  for (let i = 0; i < count; i++) {
    const name = `ACME-001_${prefix}-${String(i).padStart(3, '0')}.pdf`
    const bytes = content(name, 16 * KiB + ((i * 7919) % (224 * KiB)))
    files.set(name, bytes)
    await h.put(`inbox/${name}`, bytes)
  }
  return files
}

/** `count` opportunities, each with one S-Drive file of 24–180 KiB; returns record id → file. */
export async function seedExports(h: Harness, count: number) {
  const records = new Map<string, { name: string; fileName: string; bytes: Buffer }>()
  for (let i = 0; i < count; i++) {
    const name = `Deal-${String(i).padStart(3, '0')}`
    const id = h.sandbox.insert('Opportunity', { Name: name, StageName: 'Closed Won' })
    const fileName = `contract-${i}.pdf`
    const bytes = content(`${name}/${fileName}`, 24 * KiB + ((i * 104_729) % (156 * KiB)))
    await seedSDriveFiles(
      h.server.bridge.sdrive,
      { parentId: id, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
      [{ name: fileName, content: bytes }],
    )
    records.set(id, { name, fileName, bytes })
  }
  return records
}

/** Every inbound file exactly once in S-Drive (whole) and in /processed, nothing left or failed. */
export async function checkInboundExactlyOnce(t: Test, h: Harness, files: Map<string, Buffer>) {
  const records = sdriveFiles(h.sandbox)
  const names = records.map((r) => String(r.cg__File_Name__c)).sort()
  t.same(names, [...files.keys()].sort(), 'each file exactly once in S-Drive')
  t.equal(wipRecords(h.sandbox).length, 0, 'no WIP record left behind')
  let whole = 0
  for (const record of records) {
    const bytes = await h.sandbox.s3Object(String(record.cg__Key__c))
    if (bytes && sha256(bytes) === sha256(files.get(String(record.cg__File_Name__c)) as Buffer)) whole++
  }
  t.equal(whole, files.size, 'every S3 object holds the whole file')
  t.same(await h.list('inbox'), [], 'the inbox is empty')
  t.same(await h.list('processed'), [...files.keys()].sort(), 'each source moved to /processed once')
  t.same(await h.list('errors'), [], 'nothing in /errors')
}

/** Each record's file exactly once, whole, in its folder: no temporary, no renamed second copy. */
export async function checkExportsExactlyOnce(
  t: Test,
  h: Harness,
  records: Map<string, { name: string; fileName: string; bytes: Buffer }>,
) {
  const folders = await h.list('outbox')
  t.same(folders, [...records.values()].map((r) => r.name).sort(), 'one folder per record')
  let exact = 0
  for (const r of records.values()) {
    const names = await readdir(join(h.remoteRoot, 'outbox', r.name))
    const bytes = await readFile(join(h.remoteRoot, 'outbox', r.name, r.fileName)).catch(() => null)
    if (names.length === 1 && names[0] === r.fileName && bytes?.equals(r.bytes)) exact++
    else t.fail(`outbox/${r.name}: ${JSON.stringify(names)}`)
  }
  t.equal(exact, records.size, 'every exported file delivered exactly once, whole')
}

/** Sum over items of attempts beyond the first. */
export const retriesOf = (items: { attempts: number }[]) =>
  items.reduce((n, i) => n + Math.max(0, i.attempts - 1), 0)

export async function submitExports(h: Harness, recordIds: string[]): Promise<string[]> {
  const answers = await Promise.all(
    recordIds.map((id) => h.api('POST', '/v1/exports', { body: { flow: 'exports', recordIds: [id] } })),
  )
  for (const a of answers) if (a.status !== 202) throw new Error(`export refused: ${a.status}`)
  return answers.map((a) => a.json.jobId as string)
}

/** Waits until every job has ended (each 'run-settled' event wakes a look at the store), then reads them. */
export async function jobsOf(h: Harness, jobIds: string[]) {
  const { events, store } = h.server.bridge
  const open = new Set(jobIds)
  let wake = () => {}
  const onSettled = () => wake()
  const off = events.on('run-settled', onSettled)
  try {
    for (;;) {
      const woken = new Promise<void>((resolve) => {
        wake = resolve
      })
      for (const id of [...open]) {
        const job = await store.getRun(id)
        if (job && !['queued', 'running'].includes(job.state)) open.delete(id)
      }
      if (open.size === 0) break
      await woken
    }
  } finally {
    off()
  }
  return Promise.all(jobIds.map(async (id) => (await h.api('GET', `/v1/jobs/${id}`)).json))
}

/**
 * 300 files in and 100 exports out over `protocol` with every connection cut
 * after 1 MiB and Salesforce answering 503 to every fifth REST call: each file
 * delivered exactly once. One file per protocol (faults-cut-*.test.ts), so tap
 * runs the two in parallel.
 */
export async function cutConnectionsCase(t: Test, protocol: Protocol): Promise<void> {
  const remote = behindProxy(protocol)
  const h = await startHarness({
    protocol,
    remoteServer: remote.server,
    flows: (endpoint) => [inboundFlow(endpoint), exportFlow(endpoint)],
    endpoint: { maxConnections: 4 },
    // Room for the adapter's own retries: with calls from 100 jobs interleaving, the same call can
    // meet the fault more than once in a row.
    salesforce: { maxRetries: 8, timeoutMs: 60_000 },
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  const exports = await seedExports(h, 100)
  const inbound = await dropInbound(h, 300)

  remote.proxy.setRule({ action: 'cut', afterBytes: MiB })
  h.sandbox.failEvery('rest', 5, SALESFORCE_FAULTS.unavailable)
  const started = Date.now()
  const runStart = await h.api('POST', '/v1/flows/partner-docs/runs')
  t.equal(runStart.status, 202)
  const jobIds = await submitExports(h, [...exports.keys()])
  const [run, jobs] = await Promise.all([h.waitForRun(runStart.json.runId), jobsOf(h, jobIds)])
  const elapsed = Date.now() - started

  t.equal(run.state, 'succeeded', 'the inbound run completes')
  t.match(run.counts, { done: 300, failed: 0 })
  t.same(
    jobs.filter((j) => j.state !== 'succeeded').map((j) => [j.id, j.state, j.errorCode]),
    [],
    'all 100 export jobs succeed',
  )
  await checkInboundExactlyOnce(t, h, inbound)
  await checkExportsExactlyOnce(t, h, exports)

  const stats = remote.proxy.stats()
  const injected = h.sandbox.injectedFaults()
  const restFaults =
    (injected.query ?? 0) + (injected.sobject ?? 0) + (injected.composite ?? 0) + (injected.apex ?? 0)
  const inboundRetries = retriesOf(run.items)
  const exportRetries = retriesOf(jobs.flatMap((j) => j.files))
  t.ok(stats.cuts >= 10, `the proxy cut ${stats.cuts} connections`)
  t.ok(restFaults >= 10, `Salesforce answered 503 ${restFaults} times`)
  // A cut mid-file is continued where the endpoint resumes (issue 15), retried where it does not.
  const resumes = run.counts.resumes + jobs.reduce((sum, j) => sum + j.counts.resumes, 0)
  t.ok(inboundRetries + exportRetries + resumes > 0, 'cut files were retried or resumed')
  t.comment(
    `${protocol}: ${elapsed} ms; ${stats.connections} connections (${stats.dataConnections} data), ` +
      `${stats.cuts} cut; ${restFaults} Salesforce 503s of ${h.sandbox.apiCallCount()} API calls; ` +
      `file retries: inbound ${inboundRetries}, exports ${exportRetries}; resumes ${resumes}`,
  )
}
