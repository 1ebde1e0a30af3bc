/**
 * Resumable transfers end to end (test/e2e/resume-cut-*.test.ts): a 200 MiB
 * file through a fault proxy that cuts every connection after 20 MiB, in
 * both directions, arrives whole while the bytes moved over the wire stay
 * within 1.15 × its size (outbound FTP: within what the kernel held in
 * flight at each cut); and a file that changes while its transfer is cut
 * is read again from zero.
 */
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readFile, rename, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Test } from 'tap'
import { behindProxy, exportFlow, inboundFlow, jobsOf, MiB, type Protocol, submitExports } from './faults.js'
import { type Harness, sdriveFiles, seedRecords, startHarness, wipRecords } from './harness.js'
import { seedSDriveFiles } from './sdrive-seed.js'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** Fast reconnects: the test waits for no backoff it does not need. */
const ENDPOINT = {
  maxConnections: 2,
  operationTimeoutMs: 20_000,
  resume: { maxPerAttempt: 32, baseDelayMs: 20, maxDelayMs: 200 },
}

async function start(t: Test, protocol: Protocol) {
  const remote = behindProxy(protocol)
  const h = await startHarness({
    protocol,
    remoteServer: remote.server,
    flows: (endpoint) => [
      inboundFlow(endpoint, { retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50 } }),
      exportFlow(endpoint),
    ],
    endpoint: ENDPOINT,
  })
  t.teardown(() => h.close())
  seedRecords(h.sandbox)
  return { h, proxy: remote.proxy }
}

async function s3Bytes(h: Harness): Promise<Buffer | null> {
  const [record] = sdriveFiles(h.sandbox)
  return record ? ((await h.sandbox.s3Object(String(record.cg__Key__c))) ?? null) : null
}

/**
 * The most one loopback TCP connection can hold unacknowledged by the application: the sender's
 * send buffer and the receiver's receive buffer at their kernel maximums (Linux; 4 + 6 MiB where
 * they cannot be read, the kernel defaults).
 */
async function loopbackInFlightMax(): Promise<number> {
  const max = async (name: string, fallback: number) => {
    try {
      const values = (await readFile(`/proc/sys/net/ipv4/${name}`, 'utf8')).trim().split(/\s+/)
      const value = Number(values[2])
      return Number.isFinite(value) && value > 0 ? value : fallback
    } catch {
      return fallback
    }
  }
  return (await max('tcp_wmem', 4 * MiB)) + (await max('tcp_rmem', 6 * MiB))
}

/** 200 MiB in and 200 MiB out, every connection cut after 20 MiB. */
export async function cutEvery20MiBCase(t: Test, protocol: Protocol): Promise<void> {
  const size = 200 * MiB
  const { h, proxy } = await start(t, protocol)
  // Random bytes: a continuation at a wrong offset cannot hash the same as the file.
  const inbound = randomBytes(size)
  const name = 'ACME-001_large.pdf'
  await h.put(`inbox/${name}`, inbound)
  const outbound = randomBytes(size)
  const dealId = h.sandbox.insert('Opportunity', { Name: 'Deal-large', StageName: 'Closed Won' })
  const target = { parentId: dealId, fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' }
  // The seeding is the test's own set-up, not what is tested: a connection reset on the busy machine is tried again.
  for (let attempt = 1; ; attempt++) {
    try {
      await seedSDriveFiles(h.server.bridge.sdrive, target, [{ name: 'archive.pdf', content: outbound }])
      break
    } catch (error) {
      if (attempt === 3) throw error
    }
  }

  proxy.setRule({ action: 'cut', afterBytes: 20 * MiB })
  const run = await h.runAndWait('partner-docs')
  for (const item of run.items.filter((i) => i.errorCode))
    t.comment(`${item.path}: ${item.errorCode} ${item.errorMessage ?? ''}`)
  t.equal(run.state, 'succeeded', 'the inbound run completes')
  t.match(run.counts, { done: 1, failed: 0 })
  const stored = await s3Bytes(h)
  t.equal(stored && sha256(stored), sha256(inbound), 'S3 holds the whole file, byte for byte')
  const [item] = run.items
  t.equal(item?.sha256, sha256(inbound), 'the recorded SHA-256 is that of the file')
  t.equal(item?.attempts, 1, 'one attempt: the cuts were continued, not retried')
  t.equal(wipRecords(h.sandbox).length, 0, 'no WIP record left behind')
  const inCuts = proxy.stats().cuts
  t.ok(inCuts >= 9, `the proxy cut ${inCuts} connections during the inbound run`)
  t.ok(run.counts.resumes >= 9, `the run reports ${run.counts.resumes} resumes`)
  t.equal(item?.resumes, run.counts.resumes, 'the item reports the same resumes')
  t.ok(run.counts.bytesMoved >= size, 'at least the file was moved')
  t.ok(
    run.counts.bytesMoved <= 1.15 * size,
    `inbound bytes moved ${run.counts.bytesMoved} ≤ 1.15 × ${size} (${(run.counts.bytesMoved / size).toFixed(4)})`,
  )

  const [jobId] = await submitExports(h, [dealId])
  const [job] = await jobsOf(h, [jobId as string])
  t.equal(job.state, 'succeeded', 'the export job completes')
  const delivered = await readFile(join(h.remoteRoot, 'outbox', 'Deal-large', 'archive.pdf'))
  t.equal(sha256(delivered), sha256(outbound), 'the recipient holds the whole file, byte for byte')
  t.same((await h.list('outbox/Deal-large')).sort(), ['archive.pdf'], 'no temporary left beside it')
  const [file] = job.files
  t.equal(file.sha256, sha256(outbound), 'the job records the SHA-256 of the file delivered')
  t.equal(file.attempts, 1, 'one attempt: the cuts were continued, not retried')
  const outCuts = proxy.stats().cuts - inCuts
  t.ok(outCuts >= 9, `the proxy cut ${outCuts} connections during the export`)
  t.ok(job.counts.resumes >= 9, `the job reports ${job.counts.resumes} resumes`)
  t.equal(file.resumes, job.counts.resumes, 'the file reports the same resumes')
  t.ok(job.counts.bytesMoved >= size, 'at least the file was moved')
  if (protocol === 'ftp') {
    // FTP has no acknowledgement above TCP: what sat in the kernel's buffers (between the service,
    // the proxy and the server) when a data connection was cut never reached the file and is sent
    // again after the resume: 2.5-4.5 MiB a cut on an idle loopback (1.11-1.23 × size), 8.7 MiB a
    // cut when the machine was busy (1.42 × size, a CI run). The bound is what the kernel lets one
    // connection hold in flight, per cut; restarting from zero at each cut would be 5.5 × size.
    const perCut = await loopbackInFlightMax()
    t.ok(
      job.counts.bytesMoved - size <= outCuts * perCut,
      `outbound bytes moved ${job.counts.bytesMoved}: ${(job.counts.bytesMoved / size).toFixed(4)} × size, at most ${(perCut / MiB).toFixed(0)} MiB in flight lost at each of ${outCuts} cuts`,
    )
  } else {
    // SFTP acknowledges each write: only the requests in flight (a few hundred KiB) are sent again.
    t.ok(
      job.counts.bytesMoved <= 1.15 * size,
      `outbound bytes moved ${job.counts.bytesMoved} ≤ 1.15 × ${size} (${(job.counts.bytesMoved / size).toFixed(4)})`,
    )
  }
  t.comment(
    `${protocol}: in ${inCuts} cuts, ${run.counts.resumes} resumes, ${(run.counts.bytesMoved / size).toFixed(4)} × size; out ${outCuts} cuts, ${job.counts.resumes} resumes, ${(job.counts.bytesMoved / size).toFixed(4)} × size`,
  )
}

/** The file is replaced (same size, new bytes and mtime) while its transfer is cut: read again from zero. */
export async function changedDuringCutCase(t: Test, protocol: Protocol): Promise<void> {
  const size = 24 * MiB
  const { h, proxy } = await start(t, protocol)
  const name = 'ACME-001_moving.pdf'
  const first = randomBytes(size)
  const second = randomBytes(size)
  await h.put(`inbox/${name}`, first)
  const path = join(h.remoteRoot, 'inbox', name)

  // Made ready before the run: at the cut the swap is one rename, done long before the reconnect.
  const staging = join(h.remoteRoot, `.${name}.new`)
  await writeFile(staging, second)
  const at = (Date.now() - 7200_000) / 1000
  await utimes(staging, at, at)
  proxy.setRule({ action: 'cut', afterBytes: 8 * MiB, times: 1 })
  const replaced = once(proxy.events, 'cut').then(() => rename(staging, path))
  const run = await h.runAndWait('partner-docs')
  await replaced
  t.equal(run.state, 'succeeded', 'the run completes')
  const [item] = run.items
  t.equal(item?.attempts, 2, 'the cut attempt failed and a second one read the file again')
  t.equal(item?.resumes, 0, 'no continuation: the changed file was refused')
  const stored = await s3Bytes(h)
  t.equal(stored && sha256(stored), sha256(second), 'S3 holds the new file whole, read from its first byte')
  t.equal(item?.sha256, sha256(second))
  t.ok(
    h.logs.some(
      (line) => line.includes('"code":"FILE_CHANGED"') && line.includes('transfer will be retried'),
    ),
    'the refusal was FILE_CHANGED, and the file was retried',
  )
  t.ok((item?.bytesMoved ?? 0) > size, `bytes moved ${item?.bytesMoved} count the read that was cut`)
}
