/**
 * Run leases in the embedded SQLite file. One process is the usual case
 * here, but two started on one file by mistake still never drive the same
 * run: a claim runs inside an IMMEDIATE transaction. Given the store's
 * connection, claims and releases join its group commit instead of paying
 * an fsync of their own.
 */
import type Database from 'better-sqlite3'
import type { ClaimQuery, RunLeaseStore } from '../../ports/run-leases.js'
import type { RunRecord } from '../../ports/store.js'
import { type RunRow, toRunRecord } from './rows.js'
import { openSqlite, type SqliteConnection } from './sqlite-connection.js'

export interface SqliteRunLeasesOptions {
  path: string
  /** The store's connection, to share; else the leases open their own on `path`. */
  connection?: SqliteConnection
  now?: () => number
  busyTimeoutMs?: number
}

const list = (n: number) => Array.from({ length: n }, () => '?').join(', ')
const fromJsonText = <T>(text: string | null) => (text === null ? null : (JSON.parse(text) as T))

export function createSqliteRunLeases(options: SqliteRunLeasesOptions): RunLeaseStore {
  const now = options.now ?? Date.now
  // Opened on first use, so a process that never claims a run holds no second connection.
  let connection: SqliteConnection | null = null
  const conn = (): SqliteConnection => {
    connection ??= options.connection?.share() ?? openSqlite(options)
    return connection
  }
  const iso = (ms: number) => new Date(ms).toISOString()
  const transaction = <T>(fn: (db: Database.Database) => T): Promise<T> => conn().write(fn)

  return {
    async claim(q: ClaimQuery): Promise<RunRecord[]> {
      if (q.flows.length === 0 || q.states.length === 0 || q.limit <= 0) return []
      if (q.ids !== undefined && q.ids.length === 0) return []
      return transaction((conn) => {
        const at = iso(now())
        const where = [`r.state IN (${list(q.states.length)})`, `r.flow IN (${list(q.flows.length)})`]
        const params: (string | number)[] = [...q.states, ...q.flows]
        if (q.ids) {
          where.push(`r.id IN (${list(q.ids.length)})`)
          params.push(...q.ids)
        }
        if (q.dueBy) {
          where.push('(r.not_before IS NULL OR r.not_before <= ?)')
          params.push(q.dueBy)
        }
        where.push('(l.run_id IS NULL OR l.expires_at <= ?)')
        params.push(at, q.limit)
        const rows = conn
          .prepare<(string | number)[], RunRow<string | null>>(
            `SELECT r.* FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id
             WHERE ${where.join(' AND ')} ORDER BY r.created_at, r.id LIMIT ?`,
          )
          .all(...params)
        const upsert = conn.prepare(
          `INSERT INTO run_leases (run_id, owner, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
        )
        const until = iso(now() + q.leaseMs)
        for (const row of rows) upsert.run(row.id, q.owner, until)
        return rows.map((row) => toRunRecord(row, fromJsonText))
      })
    },

    async renew(owner, runIds, leaseMs) {
      if (runIds.length === 0) return []
      return transaction((conn) => {
        const until = iso(now() + leaseMs)
        conn
          .prepare(
            `UPDATE run_leases SET expires_at = ? WHERE owner = ? AND run_id IN (${list(runIds.length)})`,
          )
          .run(until, owner, ...runIds)
        return conn
          .prepare<string[], { run_id: string }>(
            `SELECT run_id FROM run_leases WHERE owner = ? AND run_id IN (${list(runIds.length)})`,
          )
          .all(owner, ...runIds)
          .map((r) => r.run_id)
      })
    },

    async release(owner, runIds) {
      if (runIds.length === 0 || connection === null) return
      await transaction((conn) =>
        conn
          .prepare(`DELETE FROM run_leases WHERE owner = ? AND run_id IN (${list(runIds.length)})`)
          .run(owner, ...runIds),
      )
    },

    async hold(owner, name, leaseMs) {
      return transaction((conn) => {
        const at = now()
        const changed = conn
          .prepare(
            `INSERT INTO trigger_leases (name, owner, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
               WHERE trigger_leases.owner = excluded.owner OR trigger_leases.expires_at <= ?`,
          )
          .run(name, owner, iso(at + leaseMs), iso(at)).changes
        return changed > 0
      })
    },

    async letGo(owner, name) {
      if (connection === null) return
      await transaction((conn) =>
        conn.prepare('DELETE FROM trigger_leases WHERE name = ? AND owner = ?').run(name, owner),
      )
    },

    async close() {
      connection?.close()
      connection = null
    },
  }
}
