/**
 * The RunLeaseStore contract, on SQLite and on PostgreSQL: a run is driven by
 * one owner at a time, a lease that runs out goes to the next claimer,
 * renewals tell an owner what it lost, and owners racing for the same runs
 * each get a share, never the same run.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { createPostgresStore } from '../../src/adapters/store/postgres.js'
import { createPostgresRunLeases } from '../../src/adapters/store/postgres-leases.js'
import { createSqliteStore } from '../../src/adapters/store/sqlite.js'
import { createSqliteRunLeases } from '../../src/adapters/store/sqlite-leases.js'
import type { RunLeaseStore } from '../../src/ports/run-leases.js'
import type { Store } from '../../src/ports/store.js'

const pgUrl = process.env.BRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

interface Backend {
  store: Store
  /** A new lease store on the same database (another process, as far as the contract goes). */
  leases(): RunLeaseStore
}

async function sqliteBackend(t: Test): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-leases-'))
  const path = join(dir, 'bridge.sqlite')
  const store = createSqliteStore({ path })
  await store.migrate()
  const opened: RunLeaseStore[] = []
  t.teardown(async () => {
    for (const l of opened) await l.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    store,
    leases() {
      const l = createSqliteRunLeases({ path })
      opened.push(l)
      return l
    },
  }
}

async function postgresBackend(t: Test): Promise<Backend> {
  const schema = `bridge_leases_${randomBytes(6).toString('hex')}`
  const store = createPostgresStore({ url: pgUrl, schema, poolSize: 4 })
  await store.migrate()
  const opened: RunLeaseStore[] = []
  t.teardown(async () => {
    for (const l of opened) await l.close()
    await store.close()
    const admin = new pg.Client({ connectionString: pgUrl })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await admin.end()
  })
  return {
    store,
    leases() {
      const l = createPostgresRunLeases({ url: pgUrl, schema })
      opened.push(l)
      return l
    },
  }
}

function contract(name: string, backend: (t: Test) => Promise<Backend>): void {
  t.test(`${name}: run leases`, async (t) => {
    t.test('one owner at a time; a lease that ran out goes to the next claimer', async (t) => {
      const { store, leases } = await backend(t)
      const a = leases()
      const b = leases()
      const run = (await store.createRun({ flow: 'f', trigger: 'api' })).run
      const done = (await store.createRun({ flow: 'f', trigger: 'api' })).run
      await store.updateRun(done.id, { state: 'succeeded' })
      const query = { leaseMs: 60_000, flows: ['f'], states: ['queued', 'running'] as const, limit: 10 }
      const first = await a.claim({ ...query, owner: 'a', states: [...query.states] })
      t.same(
        first.map((r) => r.id),
        [run.id],
        'the queued run, not the finished one',
      )
      t.equal(first[0]?.flow, 'f', 'claims return the run')
      t.same(
        await b.claim({ ...query, owner: 'b', states: [...query.states] }),
        [],
        'held: nobody else gets it',
      )
      t.same(await a.claim({ ...query, owner: 'a', states: [...query.states] }), [], 'nor the holder twice')

      t.same(await a.renew('a', [run.id], 1), [run.id], 'renewed (to 1 ms)')
      await new Promise((resolve) => setTimeout(resolve, 25))
      const taken = await b.claim({ ...query, owner: 'b', states: [...query.states] })
      t.same(
        taken.map((r) => r.id),
        [run.id],
        'ran out: b takes it',
      )
      t.same(await a.renew('a', [run.id], 60_000), [], 'a learns it lost the run')
      t.same(await b.renew('b', [run.id], 60_000), [run.id])
      await b.release('b', [run.id])
      t.same(
        (await a.claim({ ...query, owner: 'a', states: [...query.states] })).map((r) => r.id),
        [run.id],
        'released: claimable at once',
      )
    })

    t.test('filters: flows, states, ids, due windows', async (t) => {
      const { store, leases } = await backend(t)
      const l = leases()
      const other = (await store.createRun({ flow: 'other', trigger: 'api' })).run
      const soon = (
        await store.createRun({
          flow: 'w',
          trigger: 'api',
          state: 'waiting_for_window',
          notBefore: '2026-01-01T10:00:00.000Z',
        })
      ).run
      const later = (
        await store.createRun({
          flow: 'w',
          trigger: 'api',
          state: 'waiting_for_window',
          notBefore: '2026-01-01T12:00:00.000Z',
        })
      ).run
      const base = { owner: 'o', leaseMs: 60_000, limit: 10 }
      t.same(await l.claim({ ...base, flows: ['w'], states: ['queued'] }), [])
      t.same(
        (
          await l.claim({
            ...base,
            flows: ['w'],
            states: ['waiting_for_window'],
            dueBy: '2026-01-01T11:00:00.000Z',
          })
        ).map((r) => r.id),
        [soon.id],
        'only the window that is due',
      )
      t.same(
        await l.claim({ ...base, flows: ['other'], states: ['queued'], ids: [later.id] }),
        [],
        'ids filter',
      )
      t.same(
        (await l.claim({ ...base, flows: ['other'], states: ['queued'], ids: [other.id] })).map((r) => r.id),
        [other.id],
      )
      t.same(await l.claim({ ...base, flows: [], states: ['queued'] }), [])
      t.same(await l.renew('o', [], 1000), [])
      await l.release('o', [])
    })

    t.test('four owners racing for 40 runs: each run claimed exactly once', async (t) => {
      const { store, leases } = await backend(t)
      const ids: string[] = []
      for (let i = 0; i < 40; i++) ids.push((await store.createRun({ flow: 'race', trigger: 'api' })).run.id)
      const owners = ['w', 'x', 'y', 'z'].map((owner) => ({ owner, leases: leases() }))
      const claimed = await Promise.all(
        owners.map(async ({ owner, leases: l }) => {
          const mine: string[] = []
          for (;;) {
            const got = await l.claim({
              owner,
              leaseMs: 60_000,
              flows: ['race'],
              states: ['queued'],
              limit: 3,
            })
            if (got.length === 0) break
            mine.push(...got.map((r) => r.id))
          }
          return mine
        }),
      )
      const all = claimed.flat()
      t.equal(all.length, 40, 'all claimed')
      t.equal(new Set(all).size, 40, 'none twice')
      t.same([...all].sort(), [...ids].sort())
    })
  })
}

contract('sqlite', sqliteBackend)
contract('postgres', postgresBackend)
