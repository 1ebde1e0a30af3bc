/**
 * Shared by the polling-trigger end-to-end files (test/e2e/poll-trigger*.test.ts):
 * an outbound flow polled every second on a fresh PostgreSQL schema, N
 * Accounts in the requested state, and the one-job-per-record checks.
 */
import pg from 'pg'
import type { Test } from 'tap'
import { type ChildService, type ChildSetup, childSetup, exitCodeOf } from './child-service.js'
import { freshSchema, pgUrl, stopReplicas } from './replicas.js'

export const FLOW = 'polled'

export async function pollSetup(t: Test, records: number): Promise<{ setup: ChildSetup; schema: string }> {
  const schema = await freshSchema(t)
  const setup = await childSetup(t, {
    store: { postgresUrl: pgUrl, postgresSchema: schema, leaseMs: 3000 },
    flows: (endpoint) => [
      {
        name: FLOW,
        kind: 'outbound',
        source: { object: 'Account', fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
        destination: { endpoint, directory: '/outbox' },
        trigger: {
          poll: {
            object: 'Account',
            where: "Export_Status__c = 'Requested' AND Type != 'Hold'",
            every: '1s',
            claim: { Export_Status__c: 'Queued' },
            metadataFields: ['Name'],
          },
        },
      },
    ],
  })
  for (let i = 0; i < records; i++) {
    setup.sandbox.insert('Account', { Name: `Polled ${i}`, Export_Status__c: 'Requested', Type: 'Customer' })
  }
  // Not selected by the condition: must never be claimed nor exported.
  setup.sandbox.insert('Account', { Name: 'Held', Export_Status__c: 'Requested', Type: 'Hold' })
  return { setup, schema }
}

export async function pgQuery<R extends pg.QueryResultRow>(
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: pgUrl })
  await client.connect()
  try {
    return (await client.query<R>(sql, params)).rows
  } finally {
    await client.end()
  }
}

/** Jobs of the polled flow by record: how many jobs name each record. */
export async function jobsByRecord(schema: string): Promise<Map<string, number>> {
  const rows = await pgQuery<{ record: string; jobs: number }>(
    `SELECT request->'recordIds'->>0 AS record, count(*)::int AS jobs FROM "${schema}".runs
     WHERE flow = $1 GROUP BY 1`,
    [FLOW],
  ).catch(() => [])
  return new Map(rows.map((r) => [r.record, r.jobs]))
}

export const claimed = (setup: ChildSetup) =>
  setup.sandbox.records('Account').filter((r) => r.Export_Status__c === 'Queued')

/** The child is another process: its progress is read from the database and the sandbox. */
export async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Every requested record claimed and exported once; the held one untouched. */
export async function assertOneJobEach(
  t: Test,
  setup: ChildSetup,
  schema: string,
  records: number,
): Promise<void> {
  const requested = setup.sandbox.records('Account').filter((r) => String(r.Name).startsWith('Polled '))
  await until(`${records} jobs`, async () => (await jobsByRecord(schema)).size >= records)
  await until('the jobs to finish', async () => {
    const rows = await pgQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema}".runs WHERE flow = $1 AND state IN ('queued', 'running')`,
      [FLOW],
    )
    return rows[0]?.n === 0
  })
  // Two more ticks after the last job (only polls query now): a late duplicate would show.
  const queries = setup.sandbox.calls.query ?? 0
  await until('two more polls', () => (setup.sandbox.calls.query ?? 0) >= queries + 2)
  const jobs = await jobsByRecord(schema)
  t.equal(jobs.size, records, `${records} records have a job`)
  t.same(
    [...jobs.values()].filter((n) => n !== 1),
    [],
    'no record has two jobs',
  )
  t.same(
    requested.filter((r) => jobs.get(String(r.Id)) !== 1).map((r) => r.Id),
    [],
    'each requested record is the one its job exports',
  )
  t.equal(claimed(setup).length, records, 'every requested record carries the claim value')
  const held = setup.sandbox.records('Account').find((r) => r.Name === 'Held')
  t.equal(held?.Export_Status__c, 'Requested', 'a record outside the condition is not claimed')
  t.notOk(jobs.has(String(held?.Id)), 'nor exported')
  const open = await pgQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".poll_claims`)
  t.equal(open[0]?.n, 0, 'no claim intent is left open')
  const sample = await pgQuery<{ request: { metadata?: Record<string, string> } }>(
    `SELECT request FROM "${schema}".runs WHERE flow = $1 LIMIT 1`,
    [FLOW],
  )
  t.match(sample[0]?.request.metadata?.Name, /^Polled \d+$/, 'metadataFields reach the job')
}

/** Two batches: the kill comes in the first (200), the second is polled after the restart. */
const CRASH_RECORDS = 220

/**
 * The service SIGKILLs itself (test hook BRIDGE_TEST_POLL_KILL_AT) at `step`
 * of its first batch and is started again: every record still gets one job.
 */
export function crashAndRestart(t: Test, step: 'intents-written' | 'claimed' | 'jobs-created'): void {
  t.test(`SIGKILL at "${step}" of a tick, restart: still one job per record`, async (t) => {
    const { setup, schema } = await pollSetup(t, CRASH_RECORDS)
    setup.env.BRIDGE_TEST_POLL_KILL_AT = step
    const first = await setup.start()
    t.teardown(() => stopReplicas([first]))
    await exitCodeOf(first.proc)
    t.equal(first.proc.signalCode, 'SIGKILL', 'the service died in the window')
    const open = await pgQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".poll_claims`)
    t.equal(open[0]?.n, 200, 'the first batch is left open (intents written, job not recorded as made)')
    const jobsBefore = (await jobsByRecord(schema)).size
    t.equal(jobsBefore, step === 'jobs-created' ? 200 : 0, 'jobs made before the kill')
    t.equal(claimed(setup).length, step === 'intents-written' ? 0 : 200, 'claims written before the kill')

    delete setup.env.BRIDGE_TEST_POLL_KILL_AT
    const second: ChildService = await setup.start()
    t.teardown(() => stopReplicas([second]))
    await assertOneJobEach(t, setup, schema, CRASH_RECORDS)
    await stopReplicas([second])
  })
}
