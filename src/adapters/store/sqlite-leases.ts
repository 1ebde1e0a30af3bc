/**
 * Run leases in the embedded SQLite file, on a connection of their own (WAL
 * lets it write beside the store's). One process is the usual case here,
 * but two started on one file by mistake still never drive the same run:
 * a claim is one IMMEDIATE transaction.
 */
import Database from 'better-sqlite3'
import { BridgeError } from '../../domain/errors.js'
import type { ClaimQuery, RunLeaseStore } from '../../ports/run-leases.js'
import type { RunRecord } from '../../ports/store.js'
import { type RunRow, toRunRecord } from './rows.js'

export interface SqliteRunLeasesOptions {
  path: string
  now?: () => number
  busyTimeoutMs?: number
}

const list = (n: number) => Array.from({ length: n }, () => '?').join(', ')
const fromJsonText = <T>(text: string | null) => (text === null ? null : (JSON.parse(text) as T))

export function createSqliteRunLeases(options: SqliteRunLeasesOptions): RunLeaseStore {
  const now = options.now ?? Date.now
  let db: Database.Database | null = null
  const open = (): Database.Database => {
    if (db) return db
    db = new Database(options.path)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`)
    db.pragma('foreign_keys = ON')
    return db
  }
  const iso = (ms: number) => new Date(ms).toISOString()

  function transaction<T>(fn: (conn: Database.Database) => T): T {
    const conn = open()
    try {
      return conn.transaction(() => fn(conn)).immediate()
    } catch (error) {
      if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY')) {
        throw new BridgeError('INTERNAL', `store is busy: ${error.message}`, {
          transient: true,
          cause: error,
        })
      }
      throw error
    }
  }

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
      if (runIds.length === 0 || db === null) return
      transaction((conn) =>
        conn
          .prepare(`DELETE FROM run_leases WHERE owner = ? AND run_id IN (${list(runIds.length)})`)
          .run(owner, ...runIds),
      )
    },

    async close() {
      db?.close()
      db = null
    },
  }
}
