/**
 * The polling trigger's lease and claim intents (PollClaimStore), one
 * contract for both backends: SQLite on a temp file, PostgreSQL on a fresh
 * schema. Two pollers racing for the same records split them (each record's
 * intent written once), and a lease held by one owner is refused to another
 * until it runs out.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { createPostgresStore } from '../../src/adapters/store/postgres.js'
import { createPostgresPollClaims } from '../../src/adapters/store/postgres-poll-claims.js'
import { createSqliteStore } from '../../src/adapters/store/sqlite.js'
import { createSqlitePollClaims } from '../../src/adapters/store/sqlite-poll-claims.js'
import type { PollClaimStore, PollIntent } from '../../src/ports/poll-claims.js'

const pgUrl = process.env.BRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Two independent instances on one database (two replicas), the schema migrated by the store. */
type Open = (t: Test) => Promise<[PollClaimStore, PollClaimStore]>

const openSqlite: Open = async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-poll-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'bridge.sqlite')
  const store = createSqliteStore({ path })
  await store.migrate()
  await store.close()
  const a = createSqlitePollClaims({ path })
  const b = createSqlitePollClaims({ path })
  t.teardown(async () => {
    await a.close()
    await b.close()
  })
  return [a, b]
}

const openPostgres: Open = async (t) => {
  const schema = `bridge_poll_${randomBytes(5).toString('hex')}`
  const store = createPostgresStore({ url: pgUrl, schema, poolSize: 2 })
  await store.migrate()
  await store.close()
  const a = createPostgresPollClaims({ url: pgUrl, schema })
  const b = createPostgresPollClaims({ url: pgUrl, schema })
  t.teardown(async () => {
    await a.close()
    await b.close()
    const admin = new pg.Client({ connectionString: pgUrl })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await admin.end()
  })
  return [a, b]
}

const intents = (n: number, from = 0): PollIntent[] =>
  Array.from({ length: n }, (_, i) => ({
    recordId: `001000000000${String(from + i).padStart(3, '0')}AAA`,
    stamp: '2026-01-01T00:00:00.000+0000',
  }))

function contract(t: Test, open: Open) {
  t.test('the lease: one owner at a time, renewed by its owner, free once released or run out', async (t) => {
    const [a, b] = await open(t)
    t.equal(await a.holdLease('f', 'A', 60_000), true, 'A takes the free lease')
    t.equal(await b.holdLease('f', 'B', 60_000), false, 'B is refused while it runs')
    t.equal(await a.holdLease('f', 'A', 60_000), true, 'A renews its own')
    t.equal(await b.holdLease('other', 'B', 60_000), true, 'another flow has a lease of its own')
    await a.releaseLease('f', 'A')
    t.equal(await b.holdLease('f', 'B', 1), true, 'B takes it once released')
    // A 1 ms lease has run out by the next statement: the database's clock decides, not a sleep.
    await new Promise((resolve) => setImmediate(resolve))
    let taken = false
    for (let i = 0; i < 1000 && !taken; i++) taken = await a.holdLease('f', 'A', 60_000)
    t.equal(taken, true, 'A takes over a lease that ran out')
    t.equal(await b.holdLease('f', 'B', 60_000), false, 'and B is refused again')
  })

  t.test('intents: two pollers racing for the same records split them, none twice', async (t) => {
    const [a, b] = await open(t)
    const all = intents(300)
    const [byA, byB] = await Promise.all([a.begin('f', all), b.begin('f', [...all].reverse())])
    const ids = [...byA, ...byB].map((i) => i.recordId)
    t.equal(ids.length, 300, 'every record is begun by exactly one poller')
    t.equal(new Set(ids).size, 300, 'none by both')
    t.same(await a.begin('f', all.slice(0, 10)), [], 'an open intent is not begun again')
    t.same(await a.begin('g', all.slice(0, 2)), all.slice(0, 2), 'another flow claims on its own')

    const open1 = await b.open('f', 1000)
    t.equal(open1.length, 300, 'both pollers see every open intent')
    t.same(open1.find((i) => i.recordId === all[5]?.recordId)?.stamp, all[5]?.stamp, 'with its stamp')
    t.equal((await a.open('f', 7)).length, 7, 'open() honours its limit')
    await a.finish(
      'f',
      all.slice(0, 250).map((i) => i.recordId),
    )
    t.same(
      (await b.open('f', 1000)).map((i) => i.recordId).sort(),
      all.slice(250).map((i) => i.recordId),
      'finished intents are gone',
    )
    t.same(await b.begin('f', all.slice(0, 3)), all.slice(0, 3), 'a finished record can be begun again')
    await a.finish('f', [])
  })
}

t.test('sqlite', async (t) => contract(t, openSqlite))
t.test('postgres', async (t) => contract(t, openPostgres))
