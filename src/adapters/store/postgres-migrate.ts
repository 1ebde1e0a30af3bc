/** The PostgreSQL store's schema migrations, applied once across replicas under an advisory lock. */
import { createHash } from 'node:crypto'
import { BridgeError } from '../../domain/errors.js'
import { type PgStoreContext, type Query, transaction } from './postgres-context.js'
import type { Migration } from './postgres-migrations/index.js'

export async function migrate(ctx: PgStoreContext, migrations: readonly Migration[]): Promise<void> {
  // One lock per schema: replicas sharing tables serialize their migrations,
  // stores in other schemas (parallel test runs) do not wait for each other.
  const schema = ctx.schema
  const schemaId = `"${schema}"`
  const migrationLockKey = createHash('sha256')
    .update(`sdrive-ftp-bridge:migrate:${schema}`)
    .digest()
    .readBigInt64BE(0)
    .toString()
  const lock = (q: Query) => q('SELECT pg_advisory_xact_lock($1::bigint)', [migrationLockKey])
  await transaction(ctx, async (q) => {
    await lock(q)
    // Looked up rather than CREATE SCHEMA IF NOT EXISTS: that still needs CREATE
    // on the database, which a role given a ready-made schema may not have.
    const found = await q('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    if (found.length === 0) await q(`CREATE SCHEMA ${schemaId}`)
    await q(`CREATE TABLE IF NOT EXISTS ${ctx.table.migrations} (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL
    )`)
    const known = new Set(migrations.map((m) => m.version))
    const applied = await q<{ version: number }>(
      `SELECT version FROM ${ctx.table.migrations} ORDER BY version`,
    )
    const unknown = applied.map((r) => r.version).filter((v) => !known.has(v))
    if (unknown.length > 0) {
      throw new BridgeError(
        'INTERNAL',
        `database schema has migrations this build does not know (${unknown.join(', ')}); refusing to run an older build against it`,
      )
    }
  })
  for (const migration of migrations) {
    await transaction(ctx, async (q) => {
      await lock(q)
      // Checked under the lock: another replica may have applied it meanwhile.
      const done = await q(`SELECT 1 FROM ${ctx.table.migrations} WHERE version = $1`, [migration.version])
      if (done.length > 0) return
      // Migration SQL names no schema; search_path puts its objects in ours, for this transaction only.
      await q(`SET LOCAL search_path TO ${schemaId}`)
      await q(migration.sql)
      await q(`INSERT INTO ${ctx.table.migrations} (version, name, applied_at) VALUES ($1, $2, $3)`, [
        migration.version,
        migration.name,
        ctx.isoNow(),
      ])
    })
  }
}
