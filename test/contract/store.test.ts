import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { createIdGenerator } from '../../src/adapters/store/ids.js'
import { migrations } from '../../src/adapters/store/migrations/index.js'
import { createSqliteStore } from '../../src/adapters/store/sqlite.js'
import { storeContract } from '../support/store-contract.js'

function tempFile(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-store-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'bridge.sqlite')
}

t.test('sqlite (temp file) passes the store contract', async (t) => {
  const file = tempFile(t)
  storeContract(t, async () => createSqliteStore({ path: file }))
})

t.test('sqlite specifics', async (t) => {
  t.test('connection settings', async (t) => {
    const file = tempFile(t)
    const store = createSqliteStore({ path: file })
    t.teardown(() => store.close())
    await store.migrate()
    const db = new Database(file, { readonly: true })
    t.teardown(() => db.close())
    t.equal(db.pragma('journal_mode', { simple: true }), 'wal', 'WAL is a property of the file')
    const rows = db
      .prepare<[], { version: number; name: string }>(
        'SELECT version, name FROM schema_migrations ORDER BY version',
      )
      .all()
    t.same(
      rows.map((r) => [r.version, r.name]),
      migrations.map((m) => [m.version, m.name]),
      'every migration is recorded once',
    )
  })

  t.test('the ledger is unique in the database, not only in the adapter', async (t) => {
    const file = tempFile(t)
    const store = createSqliteStore({ path: file })
    t.teardown(() => store.close())
    await store.migrate()
    const { run } = await store.createRun({ flow: 'direct', trigger: 'api' })
    const item = {
      endpoint: 'e',
      path: '/a',
      name: 'a',
      size: 1,
      modifiedAt: 1,
      ledgerKey: 'direct/a',
      target: null,
    }
    const { added } = await store.addItems(run.id, [item, { ...item, path: '/b', ledgerKey: 'direct/b' }])
    await store.releaseLedger(added[1]!.id)
    const db = new Database(file)
    t.teardown(() => db.close())
    t.throws(
      () =>
        db
          .prepare("INSERT INTO ledger (ledger_key, item_id, claimed_at) VALUES ('direct/a', ?, 'x')")
          .run(added[1]!.id),
      { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' },
      'a second claim on a key is rejected by the primary key',
    )
  })

  t.test('an in-memory store works and closes twice', async (t) => {
    const store = createSqliteStore({ path: ':memory:' })
    await store.migrate()
    const { run } = await store.createRun({ flow: 'memory', trigger: 'api' })
    t.equal((await store.getRun(run.id))?.flow, 'memory')
    await store.close()
    await store.close()
    await t.rejects(store.getRun(run.id), { code: 'INTERNAL', message: 'store is closed' })
  })

  t.test('a database migrated by a newer build is refused', async (t) => {
    const file = tempFile(t)
    const newer = createSqliteStore({
      path: file,
      migrations: [...migrations, { version: 999, name: 'future', sql: 'CREATE TABLE future (x INTEGER)' }],
    })
    await newer.migrate()
    await newer.close()
    const current = createSqliteStore({ path: file })
    t.teardown(() => current.close())
    await t.rejects(current.migrate(), { code: 'INTERNAL', message: /999/ })
  })

  t.test('a failing migration leaves nothing behind', async (t) => {
    const file = tempFile(t)
    const broken = createSqliteStore({
      path: file,
      migrations: [
        ...migrations,
        { version: 2, name: 'broken', sql: 'CREATE TABLE half (x INTEGER); CREATE TABLE half (y INTEGER);' },
      ],
    })
    t.teardown(() => broken.close())
    await t.rejects(broken.migrate(), /already exists/)
    const db = new Database(file, { readonly: true })
    t.teardown(() => db.close())
    t.equal(
      db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'").pluck().get(),
      0,
      'the half-applied migration was rolled back',
    )
    t.same(db.prepare('SELECT version FROM schema_migrations').pluck().all(), [1])
  })

  t.test('ids sort by time, and by creation order within one millisecond', async (t) => {
    let clock = 1_700_000_000_000
    const nextId = createIdGenerator(() => clock)
    const sameMs = Array.from({ length: 50 }, () => nextId('run_'))
    t.same(
      sameMs.map((x) => x.id),
      [...sameMs.map((x) => x.id)].sort(),
      'monotonic within a millisecond',
    )
    t.equal(new Set(sameMs.map((x) => x.id)).size, 50)
    clock -= 10
    const stepBack = nextId('run_')
    t.ok(stepBack.id > sameMs[49]!.id, 'a clock stepping back does not reorder ids')
    clock += 1000
    const later = nextId('run_')
    t.equal(later.ms, clock)
    t.match(later.id, /^run_[0-9a-f]{32}$/)
    t.equal(later.id.slice(4, 16), clock.toString(16).padStart(12, '0'))
  })
})
