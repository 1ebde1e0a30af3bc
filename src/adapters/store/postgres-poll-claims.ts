/**
 * The polling trigger's leases and claim intents in PostgreSQL, shared by
 * every replica. The lease upsert replaces only a lease that ran out (or the
 * owner's own), and an intent insert does nothing when the record has one:
 * the database decides, never one process's memory. Times are the
 * database's (now()), one clock for every replica.
 */
import pg from 'pg'
import { BridgeError } from '../../domain/errors.js'
import type { PollClaimStore, PollIntent } from '../../ports/poll-claims.js'
import { getTypeParser } from './postgres.js'
import { translateError } from './postgres-errors.js'

export interface PostgresPollClaimsOptions {
  url: string
  schema?: string
}

export function createPostgresPollClaims(options: PostgresPollClaimsOptions): PollClaimStore {
  const schema = options.schema ?? 'public'
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new BridgeError('CONFIG_INVALID', `schema must be a plain name, got "${schema}"`)
  }
  const leases = `"${schema}".poll_leases`
  const claims = `"${schema}".poll_claims`
  const pool = new pg.Pool({
    connectionString: options.url,
    max: 2,
    connectionTimeoutMillis: 10_000,
    statement_timeout: 30_000,
    application_name: 'sdrive-ftp-bridge-poll',
    types: { getTypeParser },
  })
  pool.on('error', () => {})

  async function query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    try {
      return (await pool.query<R>(sql, params)).rows
    } catch (error) {
      throw translateError(error)
    }
  }

  return {
    async holdLease(flow, owner, leaseMs) {
      const rows = await query<{ owner: string }>(
        `INSERT INTO ${leases} (flow, owner, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (flow) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE ${leases}.owner = excluded.owner OR ${leases}.expires_at <= now()
         RETURNING owner`,
        [flow, owner, leaseMs],
      )
      return rows[0]?.owner === owner
    },

    async releaseLease(flow, owner) {
      await query(`DELETE FROM ${leases} WHERE flow = $1 AND owner = $2`, [flow, owner])
    },

    async begin(flow, intents) {
      if (intents.length === 0) return []
      // One lock order for every poller: two inserting the same records in other orders would deadlock.
      const sorted = [...intents].sort((x, y) =>
        x.recordId < y.recordId ? -1 : x.recordId > y.recordId ? 1 : 0,
      )
      const rows = await query<{ record_id: string }>(
        `INSERT INTO ${claims} (flow, record_id, stamp)
         SELECT $1, r, s FROM unnest($2::text[], $3::text[]) AS t (r, s) ORDER BY r
         ON CONFLICT (flow, record_id) DO NOTHING
         RETURNING record_id`,
        [flow, sorted.map((i) => i.recordId), sorted.map((i) => i.stamp)],
      )
      const written = new Set(rows.map((r) => r.record_id))
      return intents.filter((i) => written.has(i.recordId))
    },

    async open(flow, limit) {
      const rows = await query<{ record_id: string; stamp: string }>(
        `SELECT record_id, stamp FROM ${claims} WHERE flow = $1 ORDER BY created_at, record_id LIMIT $2`,
        [flow, limit],
      )
      return rows.map((r): PollIntent => ({ recordId: r.record_id, stamp: r.stamp }))
    },

    async finish(flow, recordIds) {
      if (recordIds.length === 0) return
      await query(`DELETE FROM ${claims} WHERE flow = $1 AND record_id = ANY($2::text[])`, [flow, recordIds])
    },

    close: () => pool.end(),
  }
}
