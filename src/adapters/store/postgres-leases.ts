/**
 * Run leases in PostgreSQL, shared by every replica. A claim locks the run
 * rows it takes with FOR UPDATE SKIP LOCKED, so replicas claiming at once
 * split the runs between them instead of waiting; the upsert only replaces
 * a lease that has run out, so a claimer working from an older snapshot
 * cannot take a run another replica just leased. Times are the database's
 * (now()), one clock for every replica.
 */
import pg from 'pg'
import { BridgeError } from '../../domain/errors.js'
import type { ClaimQuery, RunLeaseStore } from '../../ports/run-leases.js'
import type { RunRecord } from '../../ports/store.js'
import { getTypeParser } from './postgres.js'
import { translateError } from './postgres-errors.js'
import { type RunRow, toRunRecord } from './rows.js'

export interface PostgresRunLeasesOptions {
  url: string
  schema?: string
}

export function createPostgresRunLeases(options: PostgresRunLeasesOptions): RunLeaseStore {
  const schema = options.schema ?? 'public'
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new BridgeError('CONFIG_INVALID', `schema must be a plain name, got "${schema}"`)
  }
  const runs = `"${schema}".runs`
  const leases = `"${schema}".run_leases`
  const pool = new pg.Pool({
    connectionString: options.url,
    max: 2,
    connectionTimeoutMillis: 10_000,
    statement_timeout: 30_000,
    application_name: 'sdrive-ftp-bridge-leases',
    types: { getTypeParser },
  })
  pool.on('error', () => {})
  const decoded = <T>(value: unknown) => (value ?? null) as T | null

  async function query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    try {
      return (await pool.query<R>(sql, params)).rows
    } catch (error) {
      throw translateError(error)
    }
  }

  return {
    async claim(q: ClaimQuery): Promise<RunRecord[]> {
      if (q.flows.length === 0 || q.states.length === 0 || q.limit <= 0) return []
      if (q.ids !== undefined && q.ids.length === 0) return []
      const claimed = await query<{ run_id: string }>(
        `WITH candidates AS (
           SELECT r.id FROM ${runs} r LEFT JOIN ${leases} l ON l.run_id = r.id
           WHERE r.state = ANY($1::text[]) AND r.flow = ANY($2::text[])
             AND ($3::text[] IS NULL OR r.id = ANY($3::text[]))
             AND ($4::timestamptz IS NULL OR r.not_before IS NULL OR r.not_before <= $4::timestamptz)
             AND (l.run_id IS NULL OR l.expires_at <= now())
           ORDER BY r.created_at, r.id
           LIMIT $5
           FOR UPDATE OF r SKIP LOCKED
         )
         INSERT INTO ${leases} (run_id, owner, expires_at)
         SELECT id, $6, now() + $7 * interval '1 millisecond' FROM candidates
         ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE ${leases}.expires_at <= now()
         RETURNING run_id`,
        [q.states, q.flows, q.ids ?? null, q.dueBy ?? null, q.limit, q.owner, q.leaseMs],
      )
      if (claimed.length === 0) return []
      const rows = await query<RunRow<unknown>>(
        `SELECT * FROM ${runs} WHERE id = ANY($1::text[]) ORDER BY created_at, id`,
        [claimed.map((c) => c.run_id)],
      )
      return rows.map((row) => toRunRecord(row, decoded))
    },

    async renew(owner, runIds, leaseMs) {
      if (runIds.length === 0) return []
      const rows = await query<{ run_id: string }>(
        `UPDATE ${leases} SET expires_at = now() + $3 * interval '1 millisecond'
         WHERE owner = $1 AND run_id = ANY($2::text[]) RETURNING run_id`,
        [owner, runIds, leaseMs],
      )
      return rows.map((r) => r.run_id)
    },

    async release(owner, runIds) {
      if (runIds.length === 0) return
      await query(`DELETE FROM ${leases} WHERE owner = $1 AND run_id = ANY($2::text[])`, [owner, runIds])
    },

    async hold(owner, name, leaseMs) {
      const rows = await query<{ owner: string }>(
        `INSERT INTO "${schema}".trigger_leases (name, owner, expires_at)
         VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE "${schema}".trigger_leases.owner = excluded.owner OR "${schema}".trigger_leases.expires_at <= now()
         RETURNING owner`,
        [name, owner, leaseMs],
      )
      return rows.length > 0
    },

    async letGo(owner, name) {
      await query(`DELETE FROM "${schema}".trigger_leases WHERE name = $1 AND owner = $2`, [name, owner])
    },

    close: () => pool.end(),
  }
}
