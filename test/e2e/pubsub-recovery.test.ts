/**
 * Issue 16, the Pub/Sub subscription's recovery paths over real gRPC against
 * the sandbox, the service a child process:
 * - a change event channel with a changedFields filter (StageName = 'Closed
 *   Won') exports only the matching CREATE/UPDATE changes;
 * - every session expired mid-stream: the sandbox ends both streams
 *   UNAUTHENTICATED, the service signs in again and carries on, no event
 *   lost or doubled;
 * - the stored replay id no longer retained when the service comes back: it
 *   falls back to the earliest retained event with a warning, losing none of
 *   the events published while it was down and repeating none it had.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { type ChildService, childSetup, exitCodeOf } from '../support/child-service.js'
import { eventsFlow, publishEvents, TOPIC } from '../support/pubsub.js'

// Two service starts and a few dozen jobs on a busy 2-core machine.
t.setTimeout(5 * 60_000)

const CDC = '/data/OpportunityChangeEvent'

const wonFlow = (endpoint: string) => ({
  name: 'won',
  kind: 'outbound',
  source: { object: 'Opportunity', fileObject: 'cg__OpportunityFile__c', parentField: 'cg__Opportunity__c' },
  destination: { endpoint, directory: '/won' },
  trigger: { pubsub: { topic: CDC, changedFields: [{ field: 'StageName', equals: 'Closed Won' }] } },
})

interface Job {
  flow: string
  key: string
  request: { recordIds?: string[]; metadata?: Record<string, string> }
}

function jobsOf(path: string): Job[] {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const rows = db
      .prepare(
        `SELECT flow, idempotency_key AS key, request FROM runs WHERE trigger = 'pubsub' ORDER BY rowid`,
      )
      .all() as { flow: string; key: string; request: string }[]
    return rows.map((r) => ({ ...r, request: JSON.parse(r.request) }))
  } finally {
    db.close()
  }
}

/** Polls the child's store (another process: no event to await) until `done` holds; generous deadline. */
async function waitForJobs(path: string, done: (jobs: Job[]) => boolean): Promise<Job[]> {
  const until = Date.now() + 90_000
  for (;;) {
    const jobs = await Promise.resolve()
      .then(() => jobsOf(path))
      .catch(() => null)
    if (jobs && done(jobs)) return jobs
    if (Date.now() > until) throw new Error(`timed out waiting for jobs: ${JSON.stringify(jobs)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** The child's log lines, collected beside the drain child-service keeps on its stdout. */
function logsOf(child: ChildService): { msg?: string; level?: number; [k: string]: unknown }[] {
  const lines: { msg?: string; level?: number }[] = []
  let rest = ''
  child.proc.stdout?.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString('utf8')
    const parts = text.split('\n')
    rest = parts.pop() ?? ''
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part))
      } catch {}
    }
  })
  return lines
}

const batches = (jobs: Job[]) =>
  jobs
    .filter((j) => j.flow === 'events')
    .map((j) => j.request.metadata?.Batch__c)
    .sort()

const expected = (n: number) => Array.from({ length: n }, (_, i) => `event-${i}`).sort()

t.test('CDC filter, expired session, replay id no longer retained', async (t) => {
  const setup = await childSetup(t, {
    pubsub: true,
    leaseMs: 3000,
    flows: (e) => [eventsFlow(e), wonFlow(e)],
  })
  const bus = setup.sandbox.pubsub!
  bus.define(TOPIC, ['Record_Id__c', 'Batch__c'])
  bus.define(CDC, ['StageName', 'Amount'])
  const opps = Array.from({ length: 6 }, (_, i) =>
    setup.sandbox.insert('Opportunity', { Name: `Deal ${i}`, StageName: 'Prospecting' }),
  )
  const sqlite = join(setup.dir, 'bridge.sqlite')
  const subscribed = async () => {
    while (bus.subscribers(TOPIC) === 0 || bus.subscribers(CDC) === 0)
      await new Promise((r) => setTimeout(r, 20))
  }

  const first = await setup.start()
  const firstLogs = logsOf(first)
  t.teardown(async () => {
    first.proc.kill('SIGKILL')
    await exitCodeOf(first.proc)
  })
  await subscribed()

  // Only CREATE/UPDATE changes that set StageName to Closed Won count; the last one marks the end.
  bus.publishChanges(CDC, [
    { recordId: opps[0]!, changeType: 'UPDATE', fields: { StageName: 'Closed Won', Amount: '10' } },
    { recordId: opps[1]!, changeType: 'UPDATE', fields: { StageName: 'Prospecting' } },
    { recordId: opps[2]!, changeType: 'UPDATE', fields: { Amount: '20' } },
    { recordId: opps[3]!, changeType: 'DELETE', fields: { StageName: 'Closed Won' } },
    { recordId: opps[4]!, changeType: 'CREATE', fields: { StageName: 'Closed Won' } },
    { recordId: opps[5]!, changeType: 'UPDATE', fields: { StageName: 'Closed Won' } },
  ])
  const cdcJobs = (
    await waitForJobs(sqlite, (jobs) => jobs.some((j) => j.request.recordIds?.[0] === opps[5]))
  )
    .filter((j) => j.flow === 'won')
    .map((j) => j.request.recordIds)
  t.same(cdcJobs, [[opps[0]], [opps[4]], [opps[5]]], 'only the changes to Closed Won became jobs, in order')

  await publishEvents(setup, 0, 10, 5)
  await waitForJobs(sqlite, (jobs) => batches(jobs).length >= 10)

  // Every session expires; the next event makes the sandbox end both streams UNAUTHENTICATED.
  setup.sandbox.expireSessions()
  await publishEvents(setup, 10, 10, 5)
  let jobs = await waitForJobs(sqlite, (jobs) => batches(jobs).length >= 20)
  t.same(batches(jobs), expected(20), 'after the expiry: every event once, none lost')
  t.ok(
    firstLogs.some((l) => l.msg === 'pub/sub session refused; signing in again'),
    'the refused session was logged and renewed',
  )
  t.equal(bus.subscribers(TOPIC), 1, 'subscribed again')

  // Down: events and changes arrive, then retention drops all older ones, both stored replay ids included.
  first.proc.kill('SIGTERM')
  t.equal(await exitCodeOf(first.proc), 0, 'SIGTERM stops it cleanly')
  await publishEvents(setup, 20, 5, 5)
  bus.publishChanges(CDC, [
    { recordId: opps[1]!, changeType: 'UPDATE', fields: { StageName: 'Closed Won' } },
    ...[1, 2, 3, 4].map((n) => ({
      recordId: opps[2]!,
      changeType: 'UPDATE' as const,
      fields: { Amount: String(n) },
    })),
  ])
  bus.retainOnly(5)

  const second = await setup.start()
  const secondLogs = logsOf(second)
  t.teardown(async () => {
    second.proc.kill('SIGKILL')
    await exitCodeOf(second.proc)
  })
  await subscribed()
  // One more of each, read in order after everything retained: once their jobs exist, all before them were decided.
  await publishEvents(setup, 25, 1)
  bus.publishChanges(CDC, [{ recordId: opps[3]!, changeType: 'UPDATE', fields: { StageName: 'Closed Won' } }])
  jobs = await waitForJobs(
    sqlite,
    (jobs) => batches(jobs).includes('event-25') && jobs.some((j) => j.request.recordIds?.[0] === opps[3]),
  )
  const warnings = secondLogs.filter((l) => /no longer retained/.test(String(l.msg)))
  t.equal(warnings.length, 2, 'the expired replay id of each topic was logged')
  t.ok(
    warnings.every((w) => w.level === 40),
    'at warn level',
  )
  t.same(batches(jobs), expected(26), 'the events published while down were not lost, none repeated')
  t.same(
    jobs.filter((j) => j.flow === 'won').map((j) => j.request.recordIds),
    [[opps[0]], [opps[4]], [opps[5]], [opps[1]], [opps[3]]],
    'the matching change published while down was exported, nothing twice',
  )
  t.equal(new Set(jobs.map((j) => j.key)).size, jobs.length, 'one job per event id')
})
