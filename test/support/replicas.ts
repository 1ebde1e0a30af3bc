/**
 * Shared by the replica end-to-end files (test/e2e/replicas-*.test.ts): three
 * service processes on one fresh PostgreSQL schema each test, 300 partner
 * files and 100 S-Drive files to export, the exactly-once checks.
 */
import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import pino from 'pino'
import type { Test } from 'tap'
import { createSalesforceApi } from '../../src/adapters/salesforce/index.js'
import { createSDrive } from '../../src/adapters/sdrive/index.js'
import { parseConfig } from '../../src/config/load.js'
import { type ChildService, type ChildSetup, childApi, childSetup, exitCodeOf } from './child-service.js'
import { API_KEY, sdriveFiles, wipRecords } from './harness.js'
import { seedSDriveFiles } from './sdrive-seed.js'

export const pgUrl = process.env.BRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const FILES = 300
export const EXPORTS = 100

export async function freshSchema(t: Test): Promise<string> {
  const name = `bridge_replicas_${randomBytes(5).toString('hex')}`
  t.teardown(async () => {
    const admin = new pg.Client({ connectionString: pgUrl })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
    await admin.end()
  })
  return name
}

export async function replicaSetup(
  t: Test,
  fileSize: number,
): Promise<{ setup: ChildSetup; fileIds: string[] }> {
  const setup = await childSetup(t, {
    store: { postgresUrl: pgUrl, postgresSchema: await freshSchema(t), leaseMs: 6000 },
    flows: (endpoint) => [
      {
        name: 'deliver',
        kind: 'outbound',
        source: { object: 'Account', fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
        destination: { endpoint, directory: '/outbox', existing: 'overwrite' },
        retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 200 },
      },
    ],
  })
  for (let i = 0; i < FILES; i++) {
    await setup.dropFile(`ACME-001_doc-${String(i).padStart(3, '0')}.pdf`, Buffer.alloc(fileSize, i % 251))
  }
  // The documents the exports send: one S-Drive file each on Acme, seeded through the real protocol.
  const config = parseConfig(await readFile(setup.configPath, 'utf8'), 'json', setup.env)
  const logger = pino({ level: 'silent' })
  const sf = createSalesforceApi(config.salesforce, { logger })
  const sdrive = createSDrive(sf, config.sdrive, { logger })
  const acme = setup.sandbox.records('Account')[0]?.Id as string
  const fileIds = await seedSDriveFiles(
    sdrive,
    { parentId: acme, fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
    Array.from({ length: EXPORTS }, (_, i) => ({
      name: `out-${String(i).padStart(3, '0')}.pdf`,
      content: `export ${i}`,
    })),
  )
  return { setup, fileIds }
}

export async function stopReplicas(replicas: ChildService[]): Promise<void> {
  for (const r of replicas) {
    // Already gone (exit code, or the signal that ended it): its 'exit' has fired and will not again.
    if (r.proc.exitCode !== null || r.proc.signalCode !== null) continue
    r.proc.kill('SIGKILL')
    await exitCodeOf(r.proc).catch(() => null)
  }
}

export async function startReplicas(t: Test, setup: ChildSetup, n: number): Promise<ChildService[]> {
  const replicas = await Promise.all(Array.from({ length: n }, () => setup.start()))
  // Also stopped at the end of each test body: the setup's teardown (registered first, run first)
  // closes the SFTP server, which waits for the replicas' connections.
  t.teardown(() => stopReplicas(replicas))
  return replicas
}

export async function post(child: ChildService, path: string, body?: unknown) {
  const res = await fetch(`${child.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, json: (await res.json()) as any }
}

/** Every file once in S-Drive, none left half-uploaded, every source moved; every export once on the server. */
export async function assertExactlyOnce(t: Test, setup: ChildSetup): Promise<void> {
  const names = sdriveFiles(setup.sandbox).map((f) => String(f.cg__File_Name__c))
  const inbound = names.filter((n) => n.startsWith('ACME-001_doc-'))
  t.equal(inbound.length, FILES, `${FILES} inbound files in S-Drive`)
  t.equal(new Set(inbound).size, FILES, 'no duplicates')
  t.same(wipRecords(setup.sandbox), [], 'no half-uploaded (WIP) record left')
  t.equal((await readdir(join(setup.remoteRoot, 'processed'))).length, FILES, 'every source moved once')
  t.same(await readdir(join(setup.remoteRoot, 'inbox')), [], 'the inbox is empty')
  const outbox = (await readdir(join(setup.remoteRoot, 'outbox'))).sort()
  t.equal(outbox.length, EXPORTS, `${EXPORTS} exported files, no temporary or renamed copy`)
  t.same(
    outbox,
    Array.from({ length: EXPORTS }, (_, i) => `out-${String(i).padStart(3, '0')}.pdf`),
  )
}

export async function submitExports(replicas: ChildService[], fileIds: string[]): Promise<string[]> {
  const jobs: string[] = []
  await Promise.all(
    fileIds.map(async (fileId, i) => {
      const res = await post(replicas[i % replicas.length] as ChildService, '/v1/exports', {
        flow: 'deliver',
        fileIds: [fileId],
      })
      if (res.status !== 202) throw new Error(`export refused: ${res.status} ${JSON.stringify(res.json)}`)
      jobs.push(res.json.jobId)
    }),
  )
  return jobs
}

export async function waitForJobs(child: ChildService, jobs: string[]): Promise<any[]> {
  const finished: any[] = []
  for (const id of jobs) {
    for (;;) {
      const job = (await childApi(child, 'GET', `/v1/jobs/${id}`)).json
      if (!['queued', 'running', 'waiting_for_window'].includes(job.state)) {
        finished.push(job)
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return finished
}
