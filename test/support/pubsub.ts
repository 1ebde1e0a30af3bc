/**
 * Shared by the Pub/Sub trigger end-to-end files: a service whose `events`
 * flow exports the Account an SDrive_Export__e event names, the sandbox's
 * Pub/Sub API over real gRPC, and the jobs the events became, counted in the
 * child's own store.
 */
import Database from 'better-sqlite3'
import pg from 'pg'
import type { Test } from 'tap'
import { type ChildSetup, childSetup } from './child-service.js'

export const TOPIC = '/event/SDrive_Export__e'

export function eventsFlow(endpoint: string) {
  return {
    name: 'events',
    kind: 'outbound',
    source: { object: 'Account', fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c' },
    destination: { endpoint, directory: '/outbox', existing: 'overwrite' },
    trigger: {
      pubsub: { topic: TOPIC, recordIdField: 'Record_Id__c', metadataFields: ['Batch__c'], batchSize: 50 },
    },
  }
}

export async function pubsubSetup(
  t: Test,
  store?: Record<string, unknown>,
  leaseMs = 3000,
): Promise<ChildSetup> {
  const setup = await childSetup(t, {
    pubsub: true,
    leaseMs,
    flows: (e) => [eventsFlow(e)],
    ...(store ? { store } : {}),
  })
  setup.sandbox.pubsub!.define(TOPIC, ['Record_Id__c', 'Batch__c'])
  return setup
}

/** Publishes `count` events naming Acme, `chunk` at a time, yielding between chunks (published while the service reads). */
export async function publishEvents(
  setup: ChildSetup,
  from: number,
  count: number,
  chunk = 50,
): Promise<void> {
  const acme = setup.sandbox.records('Account')[0]?.Id as string
  for (let i = from; i < from + count; i += chunk) {
    const n = Math.min(chunk, from + count - i)
    setup.sandbox.pubsub!.publish(
      TOPIC,
      Array.from({ length: n }, (_, k) => ({ Record_Id__c: acme, Batch__c: `event-${i + k}` })),
    )
    await new Promise((resolve) => setImmediate(resolve))
  }
}

export interface JobCounts {
  jobs: number
  keys: number
  events: number
  unfinished: number
}

/** Reads the jobs the events became: how many, distinct keys and event numbers, and how many are not finished. */
export type CountJobs = () => Promise<JobCounts>

const COUNT_SQL = (runs: string) =>
  `SELECT count(*) AS jobs, count(DISTINCT idempotency_key) AS keys,
          count(DISTINCT request) AS events,
          sum(CASE WHEN state IN ('queued', 'running', 'waiting_for_window') THEN 1 ELSE 0 END) AS unfinished
   FROM ${runs} WHERE trigger = 'pubsub'`

export function sqliteCounter(path: string): CountJobs {
  return async () => {
    const db = new Database(path, { readonly: true, fileMustExist: true })
    try {
      const row = db.prepare(COUNT_SQL('runs')).get() as Record<string, number | null>
      return {
        jobs: row.jobs ?? 0,
        keys: row.keys ?? 0,
        events: row.events ?? 0,
        unfinished: row.unfinished ?? 0,
      }
    } finally {
      db.close()
    }
  }
}

export function postgresCounter(t: Test, url: string, schema: string): CountJobs {
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  t.teardown(() => pool.end())
  return async () => {
    const { rows } = await pool.query(
      COUNT_SQL(`"${schema}".runs`).replace('count(DISTINCT request)', 'count(DISTINCT request::text)'),
    )
    const row = rows[0] as Record<string, string | null>
    return {
      jobs: Number(row.jobs ?? 0),
      keys: Number(row.keys ?? 0),
      events: Number(row.events ?? 0),
      unfinished: Number(row.unfinished ?? 0),
    }
  }
}

/** Polls the child's store until `done` holds (another process: no event to await); generous deadline. */
export async function waitForCounts(count: CountJobs, done: (c: JobCounts) => boolean, deadlineMs = 90_000) {
  const until = Date.now() + deadlineMs
  for (;;) {
    const counts = await count().catch(() => null)
    if (counts && done(counts)) return counts
    if (Date.now() > until) throw new Error(`timed out waiting for jobs: ${JSON.stringify(counts)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
