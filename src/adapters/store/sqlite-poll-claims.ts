/**
 * The polling trigger's leases and claim intents in the embedded SQLite
 * file. Given the store's connection, writes join its group commit.
 */
import type Database from 'better-sqlite3'
import type { PollClaimStore, PollIntent } from '../../ports/poll-claims.js'
import { openSqlite, type SqliteConnection } from './sqlite-connection.js'

export interface SqlitePollClaimsOptions {
  path: string
  /** The store's connection, to share; else one of its own is opened on `path` at first use. */
  connection?: SqliteConnection
  now?: () => number
}

export function createSqlitePollClaims(options: SqlitePollClaimsOptions): PollClaimStore {
  const now = options.now ?? Date.now
  let connection: SqliteConnection | null = options.connection?.share() ?? null
  const conn = (): SqliteConnection => {
    connection ??= openSqlite(options)
    return connection
  }
  const iso = (ms: number) => new Date(ms).toISOString()
  const write = <T>(fn: (db: Database.Database) => T): Promise<T> => conn().write(fn)

  return {
    holdLease: (flow, owner, leaseMs) =>
      write((db) => {
        const row = db
          .prepare<[string, string, string, string], { owner: string }>(
            `INSERT INTO poll_leases (flow, owner, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (flow) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
             WHERE poll_leases.owner = excluded.owner OR poll_leases.expires_at <= ?
             RETURNING owner`,
          )
          .get(flow, owner, iso(now() + leaseMs), iso(now()))
        return row?.owner === owner
      }),

    async releaseLease(flow, owner) {
      await write((db) => db.prepare('DELETE FROM poll_leases WHERE flow = ? AND owner = ?').run(flow, owner))
    },

    begin: (flow, intents) =>
      write((db) => {
        const insert = db.prepare(
          `INSERT INTO poll_claims (flow, record_id, stamp, created_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (flow, record_id) DO NOTHING`,
        )
        const at = iso(now())
        return intents.filter((i) => insert.run(flow, i.recordId, i.stamp, at).changes === 1)
      }),

    async open(flow, limit) {
      return conn()
        .db()
        .prepare<[string, number], { record_id: string; stamp: string }>(
          'SELECT record_id, stamp FROM poll_claims WHERE flow = ? ORDER BY created_at, record_id LIMIT ?',
        )
        .all(flow, limit)
        .map((r): PollIntent => ({ recordId: r.record_id, stamp: r.stamp }))
    },

    async finish(flow, recordIds) {
      if (recordIds.length === 0) return
      await write((db) => {
        const remove = db.prepare('DELETE FROM poll_claims WHERE flow = ? AND record_id = ?')
        for (const id of recordIds) remove.run(flow, id)
      })
    },

    async close() {
      connection?.close()
      connection = null
    },
  }
}
