/**
 * Takeovers cost no attempts (issue 18, defect 13). Three replicas on one
 * PostgreSQL schema, an inbound run of many files, Salesforce answering 503
 * to every tenth REST call and S3 failing every 33rd upload — and SIGKILL
 * after SIGKILL aimed at the replica that holds the run's lease while it is
 * uploading, a fresh replica started in its place each time. The flow allows
 * few attempts, so takeovers that used them up would send files to the error
 * folder after a single real fault. At the end every file is in S-Drive
 * exactly once, none is in the error folder, and no file has more attempts
 * than the real faults its own transfer met (read from every replica's log,
 * the killed ones' included) plus one.
 *
 * CHAOS_FILES / CHAOS_KILLS scale it up by hand (the issue's 3,000 / 10).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import pg from 'pg'
import t, { type Test } from 'tap'
import { SALESFORCE_FAULTS } from '../../src/sandbox/salesforce/index.js'
import {
  type ChildSetup,
  childApi,
  childSetup,
  exitCodeOf,
  waitForRunOver,
} from '../support/child-service.js'
import { API_KEY, sdriveFiles, wipRecords } from '../support/harness.js'
import { childEnv, compiled } from '../support/service-build.js'

t.setTimeout(20 * 60_000)

const pgUrl = process.env.BRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const FILES = Number(process.env.CHAOS_FILES ?? 400)
const KILLS = Number(process.env.CHAOS_KILLS ?? 5)
const MAX_ATTEMPTS = 3

interface Replica {
  proc: ChildProcess
  url: string
  /** item id → real faults of its transfer this replica logged */
  faults: Map<string, number>
}

/** A replica process whose log is read line by line: each real fault of a file's transfer is counted. */
async function startReplica(setup: ChildSetup): Promise<Replica> {
  const proc = spawn(process.execPath, [compiled('src/server.ts')], {
    env: childEnv({ ...setup.env, BRIDGE_CONFIG: setup.configPath, LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const faults = new Map<string, number>()
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string; item?: string }
      if (entry.msg === 'sdrive-ftp-bridge listening' && entry.url) {
        resolve({ proc, url: entry.url, faults })
      }
      if (
        entry.item &&
        (entry.msg === 'transfer will be retried' || entry.msg === 'transfer failed permanently')
      ) {
        faults.set(entry.item, (faults.get(entry.item) ?? 0) + 1)
      }
    })
    proc.once('exit', () => reject(new Error('replica exited before listening')))
  })
}

async function stopAll(replicas: Replica[]): Promise<void> {
  for (const r of replicas) {
    if (r.proc.exitCode !== null || r.proc.signalCode !== null) continue
    r.proc.kill('SIGKILL')
    await exitCodeOf(r.proc).catch(() => null)
  }
}

async function freshSchema(t: Test, db: pg.Client): Promise<string> {
  const name = `bridge_chaos_${randomBytes(5).toString('hex')}`
  t.teardown(() => db.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`))
  return name
}

interface RunView {
  holderPid: number | null
  transferring: number
  delivered: number
}

/**
 * Who holds the run's lease, and how far the run is, as the shared database says. Transferring
 * counts only files started after `since` (the last kill): the killed replica's cut transfers stay
 * transferring until the new holder reconciles them, and must not pass for uploads of its own.
 */
async function runView(db: pg.Client, schema: string, runId: string, since: Date): Promise<RunView> {
  const lease = await db.query<{ owner: string }>(
    `SELECT owner FROM "${schema}".run_leases WHERE run_id = $1 AND expires_at::timestamptz > now()`,
    [runId],
  )
  const owner = lease.rows[0]?.owner
  const counts = await db.query<{ transferring: string; delivered: string }>(
    `SELECT count(*) FILTER (WHERE state = 'transferring' AND updated_at > $2) AS transferring,
            count(*) FILTER (WHERE state IN ('finalizing', 'done')) AS delivered
       FROM "${schema}".items WHERE run_id = $1`,
    [runId, since],
  )
  const row = counts.rows[0] as { transferring: string; delivered: string }
  const parts = owner?.split(':') ?? []
  return {
    holderPid: owner ? Number(parts[parts.length - 2]) : null,
    transferring: Number(row.transferring),
    delivered: Number(row.delivered),
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('SIGKILLs aimed at the lease holder while it uploads cost no file an attempt', async (t) => {
  const began = Date.now()
  const db = new pg.Client({ connectionString: pgUrl })
  await db.connect()
  t.teardown(() => db.end())
  const schema = await freshSchema(t, db)
  const setup = await childSetup(t, {
    store: { postgresUrl: pgUrl, postgresSchema: schema, leaseMs: 3000 },
  })
  const config = JSON.parse(await readFile(setup.configPath, 'utf8'))
  config.flows[0].retry = { maxAttempts: MAX_ATTEMPTS, baseDelayMs: 20, maxDelayMs: 200 }
  await writeFile(setup.configPath, JSON.stringify(config))
  for (let i = 0; i < FILES; i++) {
    await setup.dropFile(`ACME-001_doc-${String(i).padStart(4, '0')}.pdf`, Buffer.alloc(32 * 1024, i % 251))
  }
  setup.sandbox.failEvery('rest', 10, SALESFORCE_FAULTS.unavailable)
  setup.sandbox.failEvery('s3', 33, { status: 500 })

  const replicas: Replica[] = []
  t.teardown(() => stopAll(replicas))
  replicas.push(...(await Promise.all([0, 1, 2].map(() => startReplica(setup)))))
  const started = await fetch(`${(replicas[0] as Replica).url}/v1/flows/bulk/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}` },
  })
  t.equal(started.status, 202)
  const runId = ((await started.json()) as { runId: string }).runId

  const kills: RunView[] = []
  let lastKill = new Date(0)
  while (kills.length < KILLS) {
    const view = await runView(db, schema, runId, lastKill)
    const holder = replicas.find((r) => r.proc.pid === view.holderPid && r.proc.exitCode === null)
    const due = view.delivered >= ((kills.length + 1) * FILES) / (KILLS + 2)
    if (!holder || !due || view.transferring === 0) {
      if (view.delivered === FILES) break
      await pause(20)
      continue
    }
    holder.proc.kill('SIGKILL')
    await exitCodeOf(holder.proc)
    lastKill = new Date()
    kills.push(view)
    replicas.push(await startReplica(setup))
  }
  t.equal(kills.length, KILLS, `${KILLS} kills, each of the lease holder while files were transferring`)
  t.comment(`at each kill (delivered/transferring): ${kills.map((k) => `${k.delivered}/${k.transferring}`)}`)

  const live = replicas.find((r) => r.proc.exitCode === null && r.proc.signalCode === null) as Replica
  const finished = await waitForRunOver({ proc: live.proc, url: live.url }, runId)
  t.comment(`${FILES} files, ${KILLS} aimed kills: ${Date.now() - began} ms after the setup began`)
  t.equal(finished.state, 'succeeded', 'the run succeeded')
  t.equal(finished.counts.done, FILES)
  t.equal(finished.counts.failed, 0, 'no file failed')

  const names = sdriveFiles(setup.sandbox).map((f) => String(f.cg__File_Name__c))
  t.equal(names.length, FILES, `${FILES} files in S-Drive`)
  t.equal(new Set(names).size, FILES, 'each exactly once')
  t.same(wipRecords(setup.sandbox), [], 'no half-uploaded (WIP) record left')
  t.equal((await readdir(join(setup.remoteRoot, 'processed'))).length, FILES, 'every source moved once')
  const errors = await readdir(join(setup.remoteRoot, 'errors')).catch(() => [])
  t.same(errors, [], 'nothing in the error folder')

  const faults = new Map<string, number>()
  for (const r of replicas) for (const [id, n] of r.faults) faults.set(id, (faults.get(id) ?? 0) + n)
  const items = await db.query<{ id: string; attempts: number }>(
    `SELECT id, attempts FROM "${schema}".items WHERE run_id = $1`,
    [runId],
  )
  const over = items.rows.filter((i) => i.attempts > (faults.get(i.id) ?? 0) + 1)
  t.same(
    over.map((i) => [i.id, i.attempts, faults.get(i.id) ?? 0]),
    [],
    'no file has more attempts than the real faults of its transfer plus one',
  )
  const injected = setup.sandbox.injectedFaults()
  t.ok((injected.s3 ?? 0) > 0, 'S3 faults were injected')
  t.comment(
    `injected ${JSON.stringify(injected)}; real faults logged ${[...faults.values()].reduce((a, b) => a + b, 0)}` +
      ` on ${faults.size} files; max attempts ${Math.max(...items.rows.map((i) => i.attempts))}`,
  )
  const run = (await childApi({ proc: live.proc, url: live.url }, 'GET', `/v1/runs/${runId}`)).json
  t.equal(run.counts.total, FILES)
  await stopAll(replicas)
})
