import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import t, { type Test } from 'tap'
import { createIdGenerator } from '../../src/adapters/store/ids.js'
import { migrations } from '../../src/adapters/store/migrations/index.js'
import {
  createPostgresStore,
  type PostgresStoreOptions,
  retentionLockKeyOf,
} from '../../src/adapters/store/postgres.js'
import { migrations as pgMigrations } from '../../src/adapters/store/postgres-migrations/index.js'
import { createSqliteStore } from '../../src/adapters/store/sqlite.js'
import { openSqlite } from '../../src/adapters/store/sqlite-connection.js'
import { redactUrl } from '../../src/config/redact.js'
import type { NewItem, Store } from '../../src/ports/store.js'
import { type PreviousSchemaDatabase, storeContract } from '../support/store-contract.js'

/** PostgreSQL runs on this machine and in CI, so an unreachable server fails the run rather than skipping it. */
const pgUrl = process.env.BRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

function tempFile(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-store-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'bridge.sqlite')
}

/** A version after every known migration (versions may skip numbers: each branch claims its own). */
const nextVersion = (list: readonly { version: number }[]) => Math.max(...list.map((m) => m.version)) + 1

/** The migrations of the last release: a database it made is what this build must migrate forward. */
const previousVersion = 1

t.test('sqlite (temp file) passes the store contract', async (t) => {
  const file = tempFile(t)
  storeContract(t, async () => createSqliteStore({ path: file }), sqlitePreviousSchema)
})

async function sqlitePreviousSchema(t: Test): Promise<PreviousSchemaDatabase & { path: string }> {
  const file = tempFile(t)
  const store = createSqliteStore({
    path: file,
    migrations: migrations.filter((m) => m.version <= previousVersion),
  })
  t.teardown(() => store.close())
  await store.migrate()
  const db = new Database(file)
  t.teardown(() => db.close())
  db.pragma('foreign_keys = ON')
  return {
    path: file,
    store,
    exec: async (sql, params = []) => {
      db.prepare(sql).run(...params)
    },
    reopen: () => {
      const current = createSqliteStore({ path: file })
      t.teardown(() => current.close())
      return current
    },
  }
}

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

  t.test('the console’s queries are index searches, sorted by their index', async (t) => {
    const file = tempFile(t)
    const store = createSqliteStore({ path: file })
    t.teardown(() => store.close())
    await store.migrate()
    const db = new Database(file, { readonly: true })
    t.teardown(() => db.close())
    const plan = (sql: string, ...params: unknown[]) =>
      db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...params)
        .map((row) => (row as { detail: string }).detail)
        .join(' | ')
    const items = plan(
      'SELECT * FROM items WHERE run_id = ? AND state = ? AND id > ? ORDER BY id LIMIT ?',
      'run_x',
      'failed',
      'item_0',
      51,
    )
    t.match(items, /SEARCH items USING INDEX items_by_run_state \(run_id=\? AND state=\? AND id>\?\)/)
    t.notMatch(items, /TEMP B-TREE/, 'a run’s page of items needs no sort')
    const allItems = plan(
      'SELECT * FROM items WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?',
      'run_x',
      'i',
      51,
    )
    t.match(allItems, /SEARCH items USING INDEX/)
    t.notMatch(allItems, /TEMP B-TREE/)
    const runs = plan(
      `SELECT * FROM runs WHERE flow = ? AND state = ? AND created_at >= ? AND created_at < ?
       AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`,
      'f',
      'failed',
      '2026-01-01T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z',
      '2026-01-15T00:00:00.000Z',
      'run_z',
      51,
    )
    t.match(runs, /SEARCH runs USING INDEX runs_by_(flow_state|flow|state)_created/)
    t.notMatch(runs, /TEMP B-TREE/, 'runs by flow, state and time need no sort')
    const chart = plan(
      `SELECT flow, substr(updated_at, 1, 13) AS hour, sum(state <> 'failed'), sum(state = 'failed')
       FROM items INDEXED BY items_outcomes_by_flow
       WHERE state IN ('done', 'skipped', 'failed') AND updated_at >= ? GROUP BY flow, hour`,
      '2026-01-01T00:00:00.000Z',
    )
    t.match(chart, /USING COVERING INDEX items_outcomes_by_flow/, 'the chart counts in the index alone')
  })

  t.test('writes of one turn share one commit; a failing one rolls back alone', async (t) => {
    const file = tempFile(t)
    const connection = openSqlite({ path: file })
    // No checkpoints: the WAL only grows, by the pages of each commit.
    connection.db().pragma('wal_autocheckpoint = 0')
    const store = createSqliteStore({ path: file, connection })
    connection.close()
    await store.migrate()
    const { run } = await store.createRun({ flow: 'direct', trigger: 'api' })
    const item = (n: number) => ({
      endpoint: 'e',
      path: `/f${n}`,
      name: `f${n}`,
      size: n,
      modifiedAt: 1,
      ledgerKey: `direct/f${n}`,
      target: null,
    })
    const { added } = await store.addItems(
      run.id,
      Array.from({ length: 50 }, (_, n) => item(n)),
    )
    // A commit appends the pages it changed to the WAL: one commit for many writes appends them once.
    const walBytes = () => statSync(`${file}-wal`).size
    const before = walBytes()
    const updates = added.map((i) => store.updateItem(i.id, { state: 'done', bytesTransferred: i.size }))
    const missing = store.updateItem('itm_missing', { state: 'done' })
    const results = await Promise.allSettled([...updates, missing])
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 50, 'the 50 good writes resolved')
    const failed = results[50]
    t.equal(failed?.status, 'rejected', 'the write of a missing item failed')
    t.match((failed as PromiseRejectedResult).reason, { code: 'NOT_FOUND' }, 'with its own error')
    t.equal((await store.runCounts(run.id)).done, 50, 'and did not roll back the others')
    const grouped = walBytes() - before
    for (const i of added.slice(0, 10)) await store.updateItem(i.id, { attempts: 1 })
    const perLoneWrite = (walBytes() - before - grouped) / 10
    // Committed one by one, the 50 would append at least 50 frames.
    t.ok(
      grouped < perLoneWrite * 10,
      `50 writes of one turn appended ${grouped} WAL bytes; 10 awaited one by one ${perLoneWrite} bytes each`,
    )
    await store.close()
    // Resolved means on disk: a fresh connection sees every write.
    const reopened = createSqliteStore({ path: file })
    t.teardown(() => reopened.close())
    t.equal((await reopened.runCounts(run.id)).done, 50, 'every resolved write is on disk')
  })

  t.test('a write issued before close() still commits', async (t) => {
    const file = tempFile(t)
    const store = createSqliteStore({ path: file })
    await store.migrate()
    const pending = store.createRun({ flow: 'direct', trigger: 'api' })
    await store.close()
    const { run } = await pending
    const reopened = createSqliteStore({ path: file })
    t.teardown(() => reopened.close())
    t.equal((await reopened.getRun(run.id))?.id, run.id, 'the run is on disk')
    await t.rejects(
      store.createRun({ flow: 'direct', trigger: 'api' }),
      /store is closed/,
      'later writes fail',
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

  t.test('the rebuilt runs table keeps the references into it', async (t) => {
    const previous = await sqlitePreviousSchema(t)
    const runId = 'run_00000000000000000000000000000001'
    await previous.exec(
      `INSERT INTO runs (id, flow, state, trigger, idempotency_key, created_at, updated_at)
       VALUES (?, 'rebuilt', 'queued', 'api', 'rebuilt-key', '2024-05-01T10:00:00.000Z', '2024-05-01T10:00:00.000Z')`,
      [runId],
    )
    await previous.exec(
      "INSERT INTO idempotency (key, run_id, request_hash, created_at) VALUES ('rebuilt-key', ?, NULL, 'x')",
      [runId],
    )
    await previous.store.addItems(runId, [item('rebuilt/a'), item('rebuilt/b')])
    await previous.store.close()
    const store = previous.reopen()
    await store.migrate()
    await store.close()

    const db = new Database(previous.path)
    t.teardown(() => db.close())
    db.pragma('foreign_keys = ON')
    t.same(db.pragma('foreign_key_check'), [], 'no dangling reference')
    t.same(db.pragma('integrity_check', { simple: true }), 'ok')
    t.same(
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'runs%'").pluck().all(),
      ['runs'],
      'no leftover table',
    )
    t.throws(
      () =>
        db
          .prepare(
            "INSERT INTO items (id, run_id, flow, endpoint, path, name, size, modified_at, ledger_key, state, created_at, updated_at) VALUES ('itm_x', 'run_missing', 'f', 'e', '/x', 'x', 1, 1, 'rebuilt/x', 'pending', 'x', 'x')",
          )
          .run(),
      { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' },
      'items still reference runs',
    )
    db.prepare('DELETE FROM runs WHERE id = ?').run(runId)
    t.equal(
      db.prepare('SELECT count(*) FROM items').pluck().get(),
      0,
      'deleting a run still cascades to its items',
    )
    t.equal(db.prepare('SELECT count(*) FROM idempotency').pluck().get(), 0, 'and to its idempotency key')
  })

  t.test('a migration that breaks a foreign key is rolled back', async (t) => {
    const file = tempFile(t)
    const first = createSqliteStore({ path: file })
    await first.migrate()
    const { run } = await first.createRun({ flow: 'fk', trigger: 'api' })
    await first.addItems(run.id, [item('fk/a')])
    await first.close()
    const breaking = createSqliteStore({
      path: file,
      migrations: [
        ...migrations,
        { version: nextVersion(migrations), name: 'breaking', sql: 'DELETE FROM runs' },
      ],
    })
    t.teardown(() => breaking.close())
    await t.rejects(breaking.migrate(), { code: 'INTERNAL', message: /broken foreign key.*items → runs/ })
    t.equal((await breaking.getRun(run.id))?.id, run.id, 'the run is still there')
    t.equal((await breaking.listItems(run.id)).length, 1, 'and its items')
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
        {
          version: nextVersion(migrations),
          name: 'broken',
          sql: 'CREATE TABLE half (x INTEGER); CREATE TABLE half (y INTEGER);',
        },
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
    t.same(
      db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(),
      migrations.map((m) => m.version),
      'the migrations before it stay applied',
    )
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

interface PgSchema {
  name: string
  /** A plain connection outside any store, to look at the tables directly. */
  admin: pg.Client
  /** A new store instance (its own pool, as a replica has) on this schema, closed at teardown. */
  open(t: Test, options?: Partial<PostgresStoreOptions>): Store
}

/** A fresh schema per test: test files and runs in parallel never share tables. Dropped at teardown. */
async function pgSchema(t: Test): Promise<PgSchema> {
  const name = `bridge_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 5000 })
  try {
    await admin.connect()
  } catch (error) {
    await admin.end().catch(() => {})
    throw new Error(
      `PostgreSQL is not reachable at ${redactUrl(pgUrl)}: ${(error as Error).message}. ` +
        'Start it, or point BRIDGE_TEST_PG_URL at a server whose database the tests may create schemas in.',
    )
  }
  t.teardown(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
    await admin.end()
  })
  return {
    name,
    admin,
    open(tt, options = {}) {
      const store = createPostgresStore({ url: pgUrl, schema: name, poolSize: 4, ...options })
      tt.teardown(() => store.close())
      return store
    },
  }
}

function item(ledgerKey: string): NewItem {
  return {
    endpoint: 'e',
    path: `/${ledgerKey}`,
    name: ledgerKey,
    size: 1,
    modifiedAt: 1,
    ledgerKey,
    target: null,
  }
}

/** A fixed shuffle (seeded LCG), so a failing interleaving can be replayed. */
function shuffled<T>(values: readonly T[], seed: number): T[] {
  const out = [...values]
  let state = seed
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    const j = state % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

t.test('postgres (fresh schema) passes the store contract', async (t) => {
  const schema = await pgSchema(t)
  storeContract(
    t,
    async () => createPostgresStore({ url: pgUrl, schema: schema.name, poolSize: 4 }),
    pgPreviousSchema,
  )
})

async function pgPreviousSchema(t: Test): Promise<PreviousSchemaDatabase> {
  const schema = await pgSchema(t)
  const store = schema.open(t, { migrations: pgMigrations.filter((m) => m.version <= previousVersion) })
  await store.migrate()
  await schema.admin.query(`SET search_path TO "${schema.name}"`)
  return {
    store,
    exec: async (sql, params = []) => {
      let n = 0
      await schema.admin.query(
        sql.replace(/\?/g, () => `$${++n}`),
        params,
      )
    },
    reopen: () => schema.open(t),
  }
}

t.test('postgres specifics', async (t) => {
  t.test('tables live in the given schema, with PostgreSQL types', async (t) => {
    const schema = await pgSchema(t)
    const store = schema.open(t)
    await store.migrate()
    const columns = await schema.admin.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
       WHERE table_schema = $1 AND column_name IN ('created_at', 'target', 'notes', 'size', 'request', 'not_before')`,
      [schema.name],
    )
    const typeOf = (table: string, column: string) =>
      columns.rows.find((r) => r.table_name === table && r.column_name === column)?.data_type
    t.equal(typeOf('runs', 'created_at'), 'timestamp with time zone')
    t.equal(typeOf('runs', 'notes'), 'jsonb')
    t.equal(typeOf('items', 'target'), 'jsonb')
    t.equal(typeOf('items', 'size'), 'bigint')
    t.equal(typeOf('runs', 'request'), 'jsonb')
    t.equal(typeOf('runs', 'not_before'), 'timestamp with time zone')
    const tables = await schema.admin.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema.name],
    )
    t.same(
      tables.rows.map((r) => r.table_name),
      [
        'console_sessions',
        'idempotency',
        'items',
        'ledger',
        'outbox',
        'poll_claims',
        'poll_leases',
        'reviews',
        'run_leases',
        'runs',
        'schema_migrations',
        'trigger_checkpoints',
        'trigger_leases',
      ],
    )
    const recorded = await schema.admin.query<{ version: number; name: string }>(
      `SELECT version, name FROM "${schema.name}".schema_migrations ORDER BY version`,
    )
    t.same(
      recorded.rows.map((r) => [r.version, r.name]),
      pgMigrations.map((m) => [m.version, m.name]),
      'every migration is recorded once',
    )

    const { run } = await store.createRun({ flow: 'types', trigger: 'api' })
    const stored = await schema.admin.query<{ created_at: Date }>(
      `SELECT created_at FROM "${schema.name}".runs WHERE id = $1`,
      [run.id],
    )
    t.equal(stored.rows[0]?.created_at.toISOString(), run.createdAt, 'the timestamp is the one returned')
    t.match(
      run.createdAt,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
      'returned as an ISO string, like SQLite',
    )
  })

  t.test('the ledger is unique in the database, not only in the adapter', async (t) => {
    const schema = await pgSchema(t)
    const store = schema.open(t)
    await store.migrate()
    const { run } = await store.createRun({ flow: 'direct', trigger: 'api' })
    const { added } = await store.addItems(run.id, [item('direct/a'), item('direct/b')])
    await store.releaseLedger(added[1]!.id)
    await t.rejects(
      schema.admin.query(
        `INSERT INTO "${schema.name}".ledger (ledger_key, item_id, claimed_at) VALUES ('direct/a', $1, now())`,
        [added[1]!.id],
      ),
      { code: '23505' },
      'a second claim on a key is rejected by the primary key',
    )
  })

  t.test('replicas racing overlapping batches: every key claimed exactly once, no deadlock', async (t) => {
    const schema = await pgSchema(t)
    const replicas = [schema.open(t), schema.open(t), schema.open(t), schema.open(t)]
    await Promise.all(replicas.map((r) => r.migrate()))
    const keys = Array.from({ length: 60 }, (_, i) => `overlap/${String(i).padStart(2, '0')}`)
    // Every replica sends three batches at once, each a differently ordered, overlapping slice.
    const calls = replicas.flatMap((replica, r) =>
      [0, 1, 2].map(async (b) => {
        const seed = r * 3 + b + 1
        const slice = shuffled(keys, seed).slice(0, 45)
        const { run } = await replica.createRun({ flow: 'overlap', trigger: 'api' })
        return replica.addItems(run.id, slice.map(item))
      }),
    )
    const results = await Promise.all(calls)
    const winners = new Map<string, string>()
    for (const added of results.flatMap((r) => r.added)) {
      t.notOk(winners.has(added.ledgerKey), `${added.ledgerKey} added once`)
      winners.set(added.ledgerKey, added.id)
    }
    const offered = new Set(results.flatMap((r) => [...r.added.map((i) => i.ledgerKey)]))
    t.equal(winners.size, offered.size)
    t.equal(
      results.reduce((n, r) => n + r.added.length + r.duplicates.length, 0),
      12 * 45,
      'every offered item is either added or a duplicate',
    )
    for (const duplicate of results.flatMap((r) => r.duplicates)) {
      t.equal(duplicate.ownerItemId, winners.get(duplicate.item.ledgerKey), 'a duplicate names the winner')
    }
    const stored = await schema.admin.query<{ n: number; keys: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT ledger_key)::int AS keys FROM "${schema.name}".items`,
    )
    t.same(stored.rows[0], { n: winners.size, keys: winners.size }, 'the database holds one item per key')
    const owners = await replicas[0]!.ledgerOwners(keys)
    t.same(
      new Map([...owners].map(([k, v]) => [k, v.itemId])),
      winners,
      'the ledger agrees with what each replica was told',
    )
  })

  t.test('two replicas claiming large batches in opposite orders do not deadlock', async (t) => {
    const schema = await pgSchema(t)
    const a = schema.open(t)
    const b = schema.open(t)
    await a.migrate()
    // Big enough that both transactions hold claims while waiting on the other's:
    // a store that claimed in the order given would deadlock here (PostgreSQL aborts one).
    for (let round = 0; round < 4; round++) {
      const keys = Array.from({ length: 2000 }, (_, i) => `opposite/${round}/${i}`)
      const runA = (await a.createRun({ flow: 'opposite', trigger: 'api' })).run
      const runB = (await b.createRun({ flow: 'opposite', trigger: 'api' })).run
      const [resultA, resultB] = await Promise.all([
        a.addItems(runA.id, keys.map(item)),
        b.addItems(runB.id, [...keys].reverse().map(item)),
      ])
      t.equal(resultA.added.length + resultB.added.length, keys.length, `round ${round}: each key added once`)
      t.equal(resultA.duplicates.length + resultB.duplicates.length, keys.length)
    }
  })

  t.test('replicas racing createRun with one idempotency key: one created, the rest existing', async (t) => {
    const schema = await pgSchema(t)
    const replicas = [schema.open(t), schema.open(t), schema.open(t)]
    await Promise.all(replicas.map((r) => r.migrate()))
    const input = { flow: 'idem-replicas', trigger: 'api' as const, idempotencyKey: 'k', requestHash: 'h' }
    const results = await Promise.all(replicas.flatMap((r) => [r.createRun(input), r.createRun(input)]))
    t.same(results.map((r) => r.outcome).sort(), [
      'created',
      'existing',
      'existing',
      'existing',
      'existing',
      'existing',
    ])
    t.equal(new Set(results.map((r) => r.run.id)).size, 1, 'all of them name the same run')
    t.equal((await replicas[0]!.listRuns({ flow: 'idem-replicas', limit: 10 })).runs.length, 1)
    const other = await replicas[1]!.createRun({ ...input, requestHash: 'other' })
    t.equal(other.outcome, 'conflict', 'decided in the database, whichever replica asks')
  })

  t.test('retention: one pruner at a time across replicas', async (t) => {
    const schema = await pgSchema(t)
    const store = schema.open(t)
    await store.migrate()
    const run = (await store.createRun({ flow: 'prune-lock', trigger: 'api' })).run
    await store.updateRun(run.id, { state: 'succeeded', finishedAt: '2001-01-01T00:00:00.000Z' })
    const query = {
      finishedBefore: '2002-01-01T00:00:00.000Z',
      keysCreatedBefore: '2002-01-01T00:00:00.000Z',
      flows: { only: ['prune-lock'] },
      limit: 500,
    }
    // Another replica's pruner holds the lock for the length of its batch (a transaction).
    await schema.admin.query('BEGIN')
    await schema.admin.query('SELECT pg_advisory_xact_lock($1::bigint)', [retentionLockKeyOf(schema.name)])
    t.same(await store.pruneRuns(query), { runs: 0, items: 0, idempotencyKeys: 0, busy: true })
    t.same(await store.pruneReviews({ updatedBefore: query.finishedBefore, limit: 500 }), {
      reviews: 0,
      busy: true,
    })
    t.equal((await store.getRun(run.id))?.id, run.id, 'nothing pruned while the other pruner works')
    await schema.admin.query('COMMIT')
    t.match(await store.pruneRuns(query), { runs: 1, busy: false })
  })

  t.test('retention racing claims: a file whose item is being pruned is never taken again', async (t) => {
    const schema = await pgSchema(t)
    const [pruner, claimer] = [schema.open(t), schema.open(t)]
    await Promise.all([pruner.migrate(), claimer.migrate()])
    const keys = Array.from({ length: 200 }, (_, i) => `prune-race/${String(i).padStart(3, '0')}.pdf`)
    const old = (await pruner.createRun({ flow: 'prune-race', trigger: 'api' })).run
    const { added } = await pruner.addItems(old.id, keys.map(item))
    for (const a of added) await pruner.updateItem(a.id, { state: 'done' })
    await pruner.updateRun(old.id, { state: 'succeeded', finishedAt: '2001-01-01T00:00:00.000Z' })
    const later = (await claimer.createRun({ flow: 'prune-race', trigger: 'api' })).run
    const [pruned, ...claims] = await Promise.all([
      pruner.pruneRuns({
        finishedBefore: '2002-01-01T00:00:00.000Z',
        keysCreatedBefore: '2002-01-01T00:00:00.000Z',
        flows: { only: ['prune-race'] },
        limit: 500,
      }),
      ...[0, 1, 2, 3].map((n) => claimer.addItems(later.id, shuffled(keys, n).map(item))),
    ])
    t.match(pruned, { runs: 1, items: 200 })
    for (const claim of claims) {
      t.equal(claim.added.length, 0, 'nothing taken again')
      t.ok(
        claim.duplicates.every((d) => d.ownerState === 'done'),
        'each key owned by the pruned, done item',
      )
    }
  })

  t.test('replicas migrating a new schema at the same moment', async (t) => {
    const schema = await pgSchema(t)
    const replicas = [schema.open(t), schema.open(t), schema.open(t), schema.open(t)]
    const results = await Promise.allSettled(replicas.map((r) => r.migrate()))
    t.same(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
      'no replica fails',
    )
    const recorded = await schema.admin.query<{ version: number }>(
      `SELECT version FROM "${schema.name}".schema_migrations ORDER BY version`,
    )
    t.same(
      recorded.rows.map((r) => r.version),
      pgMigrations.map((m) => m.version),
      'each migration applied once',
    )
    const { run } = await replicas[3]!.createRun({ flow: 'after-race', trigger: 'api' })
    t.equal((await replicas[0]!.getRun(run.id))?.id, run.id, 'the replicas share the tables')
  })

  t.test('a database migrated by a newer build is refused', async (t) => {
    const schema = await pgSchema(t)
    const newer = schema.open(t, {
      migrations: [...pgMigrations, { version: 999, name: 'future', sql: 'CREATE TABLE future (x integer)' }],
    })
    await newer.migrate()
    const current = schema.open(t)
    await t.rejects(current.migrate(), { code: 'INTERNAL', message: /999/ })
  })

  t.test('a failing migration leaves nothing behind', async (t) => {
    const schema = await pgSchema(t)
    const broken = schema.open(t, {
      migrations: [
        ...pgMigrations,
        {
          version: nextVersion(pgMigrations),
          name: 'broken',
          sql: 'CREATE TABLE half (x integer); CREATE TABLE half (y integer);',
        },
      ],
    })
    await t.rejects(broken.migrate(), /already exists/)
    const half = await schema.admin.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
      `"${schema.name}".half`,
    ])
    t.equal(half.rows[0]?.found, null, 'the half-applied migration was rolled back')
    const versions = await schema.admin.query<{ version: number }>(
      `SELECT version FROM "${schema.name}".schema_migrations ORDER BY version`,
    )
    t.same(
      versions.rows.map((r) => r.version),
      pgMigrations.map((m) => m.version),
      'the migrations before it stay applied',
    )
  })

  t.test('an unreachable server is a transient error', async (t) => {
    const store = createPostgresStore({ url: 'postgres://postgres@127.0.0.1:1/test' })
    t.teardown(() => store.close())
    await t.rejects(store.ping(), { code: 'INTERNAL', transient: true, message: /store unavailable/ })
  })

  t.test('options are checked when the store is created', async (t) => {
    t.throws(() => createPostgresStore({ url: 'mysql://x/y' }), { code: 'CONFIG_INVALID' })
    t.throws(() => createPostgresStore({ url: pgUrl, schema: 'x"; DROP TABLE runs; --' }), {
      code: 'CONFIG_INVALID',
    })
    t.throws(() => createPostgresStore({ url: pgUrl, poolSize: 0 }), { code: 'CONFIG_INVALID' })
    t.throws(() => createPostgresStore({ url: pgUrl, statementTimeoutMs: -1 }), { code: 'CONFIG_INVALID' })
  })
})

/**
 * The audit listing's query (as src/adapters/store/*-outcomes.ts write it)
 * over 100,000 items: an index range scan in the listing's order, no sort,
 * so a page costs the same at the start and deep in the trail.
 */
const BULK = 100_000

t.test('sqlite: the audit listing walks its index over 100,000 items', async (t) => {
  const file = tempFile(t)
  const store = createSqliteStore({ path: file })
  t.teardown(() => store.close())
  await store.migrate()
  const { run } = await store.createRun({ flow: 'bulk', trigger: 'api' })
  const db = new Database(file)
  t.teardown(() => db.close())
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${BULK})
     INSERT INTO items (id, run_id, flow, endpoint, path, name, size, modified_at, ledger_key, state,
                        created_at, updated_at)
     SELECT printf('bulk%06d', i), ?, 'bulk', 'e', '/f' || i, 'f' || i, 1, 1, 'bulk/' || i,
            CASE WHEN i % 10 = 0 THEN 'pending' ELSE 'done' END, '2026-01-01T00:00:00.000Z',
            strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || i || ' seconds')
     FROM n`,
  ).run(run.id)
  db.exec('ANALYZE')
  const plan = db
    .prepare<string[], { detail: string }>(
      `EXPLAIN QUERY PLAN SELECT * FROM items WHERE state IN ('done', 'skipped', 'failed')
       AND updated_at >= ? AND (updated_at, id) > (?, ?) ORDER BY updated_at, id LIMIT 101`,
    )
    .all('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', 'bulk050000')
    .map((r) => r.detail)
    .join('\n')
  t.match(plan, /USING INDEX items_outcomes/)
  t.notMatch(plan, /TEMP B-TREE/, 'no sort')
  const deep = await store.listFileOutcomes({
    limit: 3,
    cursor: Buffer.from(JSON.stringify(['2026-01-02T00:00:00.000Z', 'bulk086400'])).toString('base64url'),
  })
  t.same(
    deep.items.map((i) => i.id),
    ['bulk086401', 'bulk086402', 'bulk086403'],
  )
})

t.test('postgres: the audit listing walks its index over 100,000 items', async (t) => {
  const schema = await pgSchema(t)
  const store = schema.open(t)
  await store.migrate()
  const { run } = await store.createRun({ flow: 'bulk', trigger: 'api' })
  await schema.admin.query(`SET search_path TO "${schema.name}"`)
  await schema.admin.query(
    `INSERT INTO items (id, run_id, flow, endpoint, path, name, size, modified_at, ledger_key, state,
                        created_at, updated_at)
     SELECT 'bulk' || lpad(i::text, 6, '0'), $1, 'bulk', 'e', '/f' || i, 'f' || i, 1, 1, 'bulk/' || i,
            CASE WHEN i % 10 = 0 THEN 'pending' ELSE 'done' END, '2026-01-01T00:00:00Z',
            timestamptz '2026-01-01T00:00:00Z' + i * interval '1 second'
     FROM generate_series(1, ${BULK}) AS i`,
    [run.id],
  )
  await schema.admin.query('ANALYZE items')
  const explained = await schema.admin.query<{ 'QUERY PLAN': unknown }>(
    `EXPLAIN (FORMAT JSON) SELECT * FROM items WHERE state IN ('done', 'skipped', 'failed')
     AND updated_at >= $1::timestamptz AND (updated_at, id) > ($2::timestamptz, $3)
     ORDER BY updated_at, id LIMIT 101`,
    ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', 'bulk050000'],
  )
  const plan = JSON.stringify(explained.rows[0]?.['QUERY PLAN'])
  t.match(plan, /items_outcomes/)
  t.notMatch(plan, /"Node Type":"Sort"/, 'no sort')
  const deep = await store.listFileOutcomes({
    limit: 3,
    cursor: Buffer.from(JSON.stringify(['2026-01-02T00:00:00.000Z', 'bulk086400'])).toString('base64url'),
  })
  t.same(
    deep.items.map((i) => i.id),
    ['bulk086401', 'bulk086402', 'bulk086403'],
  )
})
