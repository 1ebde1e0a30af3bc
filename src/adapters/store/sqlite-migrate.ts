/** The SQLite store's schema migrations, applied in order, each in a write transaction of its own. */
import { BridgeError } from '../../domain/errors.js'
import type { Migration } from './migrations/index.js'
import type { SqliteStoreContext } from './sqlite-context.js'

export function migrate(ctx: SqliteStoreContext, migrations: readonly Migration[]): void {
  const conn = ctx.db()
  conn.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`)
  const known = new Set(migrations.map((m) => m.version))
  const applied = conn
    .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
    .all()
    .map((r) => r.version)
  const unknown = applied.filter((v) => !known.has(v))
  if (unknown.length > 0) {
    throw new BridgeError(
      'INTERNAL',
      `database schema has migrations this build does not know (${unknown.join(', ')}); refusing to run an older build against it`,
    )
  }
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    // A migration may rebuild a table (SQLite cannot alter a constraint), and
    // dropping the old table with foreign keys on would cascade into the rows
    // that reference it. So foreign keys are off while a migration runs (the
    // pragma is a no-op inside a transaction, hence out here) and checked as a
    // whole before it commits: a migration that breaks a reference rolls back.
    conn.pragma('foreign_keys = OFF')
    try {
      ctx.writeNow(() => {
        // Checked inside the write transaction: another process may have applied it meanwhile.
        const done = conn
          .prepare<[number], { version: number }>('SELECT version FROM schema_migrations WHERE version = ?')
          .get(migration.version)
        if (done) return
        conn.exec(migration.sql)
        const broken = conn.pragma('foreign_key_check') as { table: string; parent: string }[]
        if (broken.length > 0) {
          const first = broken[0]!
          throw new BridgeError(
            'INTERNAL',
            `migration ${migration.version} (${migration.name}) leaves ${broken.length} broken foreign key(s), first in ${first.table} → ${first.parent}`,
          )
        }
        conn
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(migration.version, migration.name, ctx.isoNow())
      })
    } finally {
      conn.pragma('foreign_keys = ON')
    }
  }
}
