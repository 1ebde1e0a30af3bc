/**
 * The shared Store: PostgreSQL through a pg Pool, for several replicas on one
 * database. Same contract as the SQLite store (test/contract/store.test.ts).
 * Whatever must hold across replicas (a ledger key claimed once, one run per
 * idempotency key, migrations applied once) is decided by the database — a
 * unique constraint or an advisory lock — never by state in this process.
 */
import { createHash } from 'node:crypto'
import pg from 'pg'
import { BridgeError } from '../../domain/errors.js'
import type {
  AddItemsResult,
  CreateRunInput,
  CreateRunResult,
  ItemPatch,
  ItemRecord,
  ItemState,
  LedgerOwner,
  ListRunsQuery,
  NewItem,
  PrunedRuns,
  PruneRunsQuery,
  ReviewRecord,
  RunCounts,
  RunPatch,
  RunRecord,
  RunState,
  Store,
} from '../../ports/store.js'
import { TerminalRunStates } from '../../ports/store.js'
import { decodeRunCursor, encodeRunCursor } from './cursor.js'
import { createIdGenerator } from './ids.js'
import { translateError } from './postgres-errors.js'
import { migrations as defaultMigrations, type Migration } from './postgres-migrations/index.js'
import {
  type ItemRow as ItemRowOf,
  type JsonDecoder,
  type ReviewRow as ReviewRowOf,
  type RunRow as RunRowOf,
  reviewDataOf,
  toItemRecord,
  toReviewRecord,
  toRunRecord,
} from './rows.js'

export interface PostgresStoreOptions {
  /** postgres://user:password@host:5432/database; libpq query parameters (sslmode, …) apply. */
  url: string
  /** Schema that holds the tables, created if missing. Default "public". */
  schema?: string
  /** Connections in the pool. Default 10. */
  poolSize?: number
  /** Server-side limit per statement, so a stuck query fails instead of holding a worker. Default 30000 ms; 0 = none. */
  statementTimeoutMs?: number
  /** Clock for ids and timestamps (tests). */
  now?: () => number
  /** Migrations to apply (tests of the migration runner). */
  migrations?: readonly Migration[]
}

interface OwnerRow {
  ledger_key: string
  item_id: string
  state: ItemState
  record_id: string | null
}

type Cast = 'jsonb' | 'timestamptz' | null

/** Patchable run fields → column, and the cast its parameter needs. */
const runColumns: Record<keyof RunPatch, { column: string; cast: Cast }> = {
  state: { column: 'state', cast: null },
  startedAt: { column: 'started_at', cast: 'timestamptz' },
  finishedAt: { column: 'finished_at', cast: 'timestamptz' },
  notes: { column: 'notes', cast: 'jsonb' },
  error: { column: 'error', cast: 'jsonb' },
  notBefore: { column: 'not_before', cast: 'timestamptz' },
}

const itemColumns: Record<keyof ItemPatch, { column: string; cast: Cast }> = {
  state: { column: 'state', cast: null },
  attempts: { column: 'attempts', cast: null },
  nextAttemptAt: { column: 'next_attempt_at', cast: 'timestamptz' },
  target: { column: 'target', cast: 'jsonb' },
  wipFileId: { column: 'wip_file_id', cast: null },
  sdriveFileId: { column: 'sdrive_file_id', cast: null },
  sha256: { column: 'sha256', cast: null },
  bytesTransferred: { column: 'bytes_transferred', cast: null },
  finalPath: { column: 'final_path', cast: null },
  error: { column: 'error', cast: 'jsonb' },
  detail: { column: 'detail', cast: 'jsonb' },
}

const activeItemStates: readonly ItemState[] = ['pending', 'transferring', 'finalizing']

/** A claim whose owner vanished (released) before we could read it is retried this many times. */
const maxClaimRounds = 3

const schemaNamePattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<R[]>

export function createPostgresStore(options: PostgresStoreOptions): Store {
  const { url, schema, poolSize, statementTimeoutMs } = validateOptions(options)
  const now = options.now ?? Date.now
  const nextId = createIdGenerator(now)
  const migrations = [...(options.migrations ?? defaultMigrations)].sort((a, b) => a.version - b.version)
  const schemaId = `"${schema}"`
  const table = {
    migrations: `${schemaId}.schema_migrations`,
    runs: `${schemaId}.runs`,
    items: `${schemaId}.items`,
    ledger: `${schemaId}.ledger`,
    idempotency: `${schemaId}.idempotency`,
    reviews: `${schemaId}.reviews`,
  }
  // One lock per schema: replicas sharing tables serialize their migrations,
  // stores in other schemas (parallel test runs) do not wait for each other.
  /**
   * Who owns a ledger key: the item while it exists, else what the ledger kept
   * of it when retention pruned it (its final state and record).
   */
  const ownerSql = `SELECT l.ledger_key, l.item_id, coalesce(i.state, l.settled_state) AS state,
      coalesce(i.target->>'recordId', l.record_id) AS record_id
    FROM ${table.ledger} l LEFT JOIN ${table.items} i ON i.id = l.item_id
    WHERE l.ledger_key = ANY($1::text[]) AND (i.id IS NOT NULL OR l.settled_state IS NOT NULL)`
  const retentionLockKey = retentionLockKeyOf(schema)
  const migrationLockKey = createHash('sha256')
    .update(`sdrive-ftp-bridge:migrate:${schema}`)
    .digest()
    .readBigInt64BE(0)
    .toString()

  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    statement_timeout: statementTimeoutMs === 0 ? false : statementTimeoutMs,
    // Without it a pool waiting on an unreachable server would hang readiness checks forever.
    connectionTimeoutMillis: 10_000,
    application_name: 'sdrive-ftp-bridge',
    types: { getTypeParser },
  })
  // An idle connection the server dropped emits here; without a listener that
  // would crash the process. The pool discards that connection by itself, and
  // the next query opens a fresh one or fails with its own error.
  pool.on('error', () => {})

  let closed = false
  let ended: Promise<void> | undefined

  const isoNow = () => new Date(now()).toISOString()

  function open(): pg.Pool {
    if (closed) throw new BridgeError('INTERNAL', 'store is closed')
    return pool
  }

  const query: Query = async (text, values) => {
    try {
      return (await open().query(text, values)).rows
    } catch (error) {
      throw translateError(error)
    }
  }

  /** Runs fn on one connection inside BEGIN … COMMIT; any error rolls back. */
  async function transaction<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await open().connect()
    } catch (error) {
      throw translateError(error)
    }
    const q: Query = async (text, values) => (await client.query(text, values)).rows
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await fn(q)
      await client.query('COMMIT')
      return result
    } catch (error) {
      try {
        await client.query('ROLLBACK')
      } catch (rollbackError) {
        // The connection itself failed: do not hand it back to the pool.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
      }
      throw translateError(error)
    } finally {
      client.release(broken)
    }
  }

  async function migrate(): Promise<void> {
    const lock = (q: Query) => q('SELECT pg_advisory_xact_lock($1::bigint)', [migrationLockKey])
    await transaction(async (q) => {
      await lock(q)
      // Looked up rather than CREATE SCHEMA IF NOT EXISTS: that still needs CREATE
      // on the database, which a role given a ready-made schema may not have.
      const found = await q('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
      if (found.length === 0) await q(`CREATE SCHEMA ${schemaId}`)
      await q(`CREATE TABLE IF NOT EXISTS ${table.migrations} (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL
      )`)
      const known = new Set(migrations.map((m) => m.version))
      const applied = await q<{ version: number }>(`SELECT version FROM ${table.migrations} ORDER BY version`)
      const unknown = applied.map((r) => r.version).filter((v) => !known.has(v))
      if (unknown.length > 0) {
        throw new BridgeError(
          'INTERNAL',
          `database schema has migrations this build does not know (${unknown.join(', ')}); refusing to run an older build against it`,
        )
      }
    })
    for (const migration of migrations) {
      await transaction(async (q) => {
        await lock(q)
        // Checked under the lock: another replica may have applied it meanwhile.
        const done = await q(`SELECT 1 FROM ${table.migrations} WHERE version = $1`, [migration.version])
        if (done.length > 0) return
        // Migration SQL names no schema; search_path puts its objects in ours, for this transaction only.
        await q(`SET LOCAL search_path TO ${schemaId}`)
        await q(migration.sql)
        await q(`INSERT INTO ${table.migrations} (version, name, applied_at) VALUES ($1, $2, $3)`, [
          migration.version,
          migration.name,
          isoNow(),
        ])
      })
    }
  }

  async function createRun(input: CreateRunInput): Promise<CreateRunResult> {
    const { id, ms } = nextId('run_')
    const createdAt = new Date(ms).toISOString()
    const insertRun = async (q: Query): Promise<RunRecord> => {
      const rows = await q<RunRow>(
        `INSERT INTO ${table.runs} (id, flow, state, trigger, idempotency_key, created_at, updated_at, request,
           not_before)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7::jsonb, $8::timestamptz) RETURNING *`,
        [
          id,
          input.flow,
          input.state ?? 'queued',
          input.trigger,
          input.idempotencyKey ?? null,
          createdAt,
          toJson(input.request),
          input.notBefore ?? null,
        ],
      )
      return toRun(single(rows, `run ${id}`))
    }
    const key = input.idempotencyKey
    if (key === undefined) return { outcome: 'created', run: await insertRun(query) }
    return transaction(async (q): Promise<CreateRunResult> => {
      // The key's primary key decides: a replica inserting the same key at the
      // same moment waits for this transaction and then finds the key taken.
      const claimed = await q(
        `INSERT INTO ${table.idempotency} (key, run_id, request_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key) DO NOTHING RETURNING key`,
        [key, id, input.requestHash ?? null, createdAt],
      )
      if (claimed.length > 0) return { outcome: 'created', run: await insertRun(q) }
      // The flow is part of the request: one key reused for another flow is a conflict even without hashes.
      const rows = await q<RunRow & { same: boolean }>(
        `SELECT r.*, (i.request_hash IS NOT DISTINCT FROM $2 AND r.flow = $3) AS same
         FROM ${table.idempotency} i JOIN ${table.runs} r ON r.id = i.run_id WHERE i.key = $1`,
        [key, input.requestHash ?? null, input.flow],
      )
      const previous = single(rows, `the run of idempotency key ${key}`)
      return { outcome: previous.same ? 'existing' : 'conflict', run: toRun(previous) }
    })
  }

  async function listRuns(q: ListRunsQuery): Promise<{ runs: RunRecord[]; nextCursor: string | null }> {
    if (!Number.isInteger(q.limit) || q.limit < 1) {
      throw new BridgeError('VALIDATION_FAILED', `limit must be a positive integer, got ${q.limit}`)
    }
    const where: string[] = []
    const params: unknown[] = []
    const param = (value: unknown) => `$${params.push(value)}`
    if (q.flow !== undefined) where.push(`flow = ${param(q.flow)}`)
    // An empty list matches no run (flow = ANY('{}') is false).
    if (q.flows !== undefined) where.push(`flow = ANY(${param(q.flows)}::text[])`)
    if (q.state !== undefined) where.push(`state = ${param(q.state)}`)
    if (q.cursor !== undefined) {
      const cursor = decodeRunCursor(q.cursor)
      // Checked here: a well-formed token with a bad date would otherwise surface as a database error.
      if (!Number.isFinite(Date.parse(cursor.createdAt))) {
        throw new BridgeError('VALIDATION_FAILED', 'invalid cursor', { details: { cursor: q.cursor } })
      }
      where.push(`(created_at, id) < (${param(cursor.createdAt)}::timestamptz, ${param(cursor.id)})`)
    }
    // One extra row tells whether another page exists without a count query.
    const rows = await query<RunRow>(
      `SELECT * FROM ${table.runs} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT ${param(q.limit + 1)}`,
      params,
    )
    const page = rows.slice(0, q.limit).map(toRun)
    const last = page[page.length - 1]
    const nextCursor =
      rows.length > q.limit && last ? encodeRunCursor({ createdAt: last.createdAt, id: last.id }) : null
    return { runs: page, nextCursor }
  }

  async function update<R extends pg.QueryResultRow, P extends object>(
    tableName: string,
    columns: Record<keyof P, { column: string; cast: Cast }>,
    what: string,
    id: string,
    patch: P,
  ): Promise<R> {
    const { sets, values } = assignments(columns, patch)
    const n = values.length
    const rows = await query<R>(
      `UPDATE ${tableName} SET ${[...sets, `updated_at = $${n + 1}`].join(', ')} WHERE id = $${n + 2} RETURNING *`,
      [...values, isoNow(), id],
    )
    const row = rows[0]
    if (!row) throw new BridgeError('NOT_FOUND', `${what} ${id} not found`)
    return row
  }

  async function addItems(runId: string, items: NewItem[]): Promise<AddItemsResult> {
    return transaction(async (q) => {
      const run = (await q<{ flow: string }>(`SELECT flow FROM ${table.runs} WHERE id = $1`, [runId]))[0]
      if (!run) throw new BridgeError('NOT_FOUND', `run ${runId} not found`)
      if (items.length === 0) return { added: [], duplicates: [] }

      const planned = items.map((item) => {
        const { id, ms } = nextId('itm_')
        return { item, id, createdAt: new Date(ms).toISOString() }
      })
      // Within one batch the first occurrence of a key is the one that may claim it.
      const candidates = new Map<string, (typeof planned)[number]>()
      for (const p of planned) if (!candidates.has(p.item.ledgerKey)) candidates.set(p.item.ledgerKey, p)

      const won = new Set<string>()
      const owners = new Map<string, LedgerOwner>()
      // Keys are claimed in one global order, so two replicas claiming
      // overlapping batches wait on each other instead of deadlocking.
      let pending = [...candidates.keys()].sort()
      for (let round = 0; pending.length > 0; round++) {
        if (round === maxClaimRounds) {
          throw new BridgeError('INTERNAL', 'ledger keys changed owner while being claimed', {
            transient: true,
          })
        }
        const claims = pending.map((key) => candidates.get(key)!)
        // The ledger's primary key, not a lookup, decides who gets the file.
        const claimed = await q<{ ledger_key: string }>(
          `INSERT INTO ${table.ledger} (ledger_key, item_id, claimed_at)
           SELECT u.ledger_key, u.item_id, u.claimed_at
           FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS u(ledger_key, item_id, claimed_at, n)
           ORDER BY u.n
           ON CONFLICT (ledger_key) DO NOTHING RETURNING ledger_key`,
          [pending, claims.map((c) => c.id), claims.map((c) => c.createdAt)],
        )
        for (const row of claimed) won.add(row.ledger_key)
        const lost = pending.filter((key) => !won.has(key))
        if (lost.length === 0) break
        const taken = await q<OwnerRow>(ownerSql, [lost])
        for (const row of taken) owners.set(row.ledger_key, ownerOf(row))
        // A key taken at our INSERT but released before our SELECT is free again: claim it next round.
        pending = lost.filter((key) => !owners.has(key))
      }

      const inserts = [...candidates.values()].filter((p) => won.has(p.item.ledgerKey))
      const rows =
        inserts.length === 0
          ? []
          : await q<ItemRow>(
              `INSERT INTO ${table.items} (id, run_id, flow, endpoint, path, name, size, modified_at, ledger_key,
                 state, target, error, created_at, updated_at)
               SELECT u.id, $1, $2, u.endpoint, u.path, u.name, u.size, u.modified_at, u.ledger_key,
                 u.state, u.target::jsonb, u.error::jsonb, u.created_at, u.created_at
               FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[],
                 $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[])
                 AS u(id, endpoint, path, name, size, modified_at, ledger_key, state, target, error, created_at)
               RETURNING *`,
              [
                runId,
                run.flow,
                inserts.map((p) => p.id),
                inserts.map((p) => p.item.endpoint),
                inserts.map((p) => p.item.path),
                inserts.map((p) => p.item.name),
                inserts.map((p) => p.item.size),
                inserts.map((p) => p.item.modifiedAt),
                inserts.map((p) => p.item.ledgerKey),
                inserts.map((p) => p.item.state ?? 'pending'),
                inserts.map((p) => toJson(p.item.target)),
                inserts.map((p) => toJson(p.item.error ?? null)),
                inserts.map((p) => p.createdAt),
              ],
            )
      const inserted = new Map(rows.map((row) => [row.id, toItem(row)]))

      const added: ItemRecord[] = []
      const duplicates: AddItemsResult['duplicates'] = []
      for (const p of planned) {
        const key = p.item.ledgerKey
        const candidate = candidates.get(key)!
        const ours = won.has(key) ? inserted.get(candidate.id) : undefined
        if (ours && candidate === p) {
          added.push(ours)
          continue
        }
        const owner = ours ? { itemId: ours.id, state: ours.state, recordId: null } : owners.get(key)
        if (!owner) throw new BridgeError('INTERNAL', `ledger key ${key} has no owner after claiming`)
        duplicates.push({ item: p.item, ownerItemId: owner.itemId, ownerState: owner.state })
      }
      return { added, duplicates }
    })
  }

  async function ledgerOwners(keys: string[]): Promise<Map<string, LedgerOwner>> {
    const owners = new Map<string, LedgerOwner>()
    if (keys.length === 0) return owners
    // One statement: every answer comes from the same snapshot.
    const rows = await query<OwnerRow>(ownerSql, [[...new Set(keys)]])
    for (const row of rows) owners.set(row.ledger_key, ownerOf(row))
    return owners
  }

  /** Retention takes this lock per batch: with replicas, one pruner at a time. */
  async function underRetentionLock<T>(q: Query, busy: T): Promise<T | null> {
    const [row] = await q<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS locked', [
      retentionLockKey,
    ])
    return row?.locked ? null : busy
  }

  async function pruneRuns(query: PruneRunsQuery): Promise<PrunedRuns> {
    return transaction(async (q) => {
      const busy = await underRetentionLock(q, { runs: 0, items: 0, idempotencyKeys: 0, busy: true })
      if (busy) return busy
      const only = 'only' in query.flows
      const flows = 'only' in query.flows ? [...query.flows.only] : [...query.flows.except]
      // FOR UPDATE: a retry re-queueing one of these runs meanwhile waits, then finds it gone (or we skip it).
      const ids = (
        await q<{ id: string }>(
          `SELECT id FROM ${table.runs}
           WHERE state = ANY($1::text[]) AND coalesce(finished_at, updated_at) < $2
             AND (idempotency_key IS NULL OR created_at < $3)
             AND ${only ? '' : 'NOT '}(flow = ANY($4::text[]))
           LIMIT $5 FOR UPDATE SKIP LOCKED`,
          [[...TerminalRunStates], query.finishedBefore, query.keysCreatedBefore, flows, query.limit],
        )
      ).map((r) => r.id)
      if (ids.length === 0) return { runs: 0, items: 0, idempotencyKeys: 0, busy: false }
      // The ledger rows stay: they take over each item's final state and record as it goes.
      const [items] = await q<{ n: number }>(
        `WITH gone AS (DELETE FROM ${table.items} WHERE run_id = ANY($1::text[]) RETURNING id, state, target),
              settled AS (
                UPDATE ${table.ledger} l
                SET settled_state = CASE gone.state WHEN 'done' THEN 'done' WHEN 'skipped' THEN 'skipped'
                                                    ELSE 'failed' END,
                    record_id = gone.target->>'recordId'
                FROM gone WHERE l.item_id = gone.id RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [ids],
      )
      const [keys] = await q<{ n: number }>(
        `WITH gone AS (DELETE FROM ${table.idempotency} WHERE run_id = ANY($1::text[]) RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [ids],
      )
      // Leases go with their run (ON DELETE CASCADE).
      const [runs] = await q<{ n: number }>(
        `WITH gone AS (DELETE FROM ${table.runs} WHERE id = ANY($1::text[]) RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [ids],
      )
      return { runs: runs?.n ?? 0, items: items?.n ?? 0, idempotencyKeys: keys?.n ?? 0, busy: false }
    })
  }

  async function pruneReviews(query: { updatedBefore: string; limit: number }) {
    return transaction(async (q) => {
      const busy = await underRetentionLock(q, { reviews: 0, busy: true })
      if (busy) return busy
      const [row] = await q<{ n: number }>(
        `WITH gone AS (
           DELETE FROM ${table.reviews} WHERE correlation_id IN (
             SELECT correlation_id FROM ${table.reviews}
             WHERE state IN ('resubmitted', 'failed') AND updated_at < $1
             LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [query.updatedBefore, query.limit],
      )
      return { reviews: row?.n ?? 0, busy: false }
    })
  }

  async function runCounts(runId: string): Promise<RunCounts> {
    // The LEFT JOIN answers "does the run exist" and "what are its counts" in one snapshot.
    const rows = await query<{ state: ItemState | null; n: number; bytes: number }>(
      `SELECT i.state, count(i.id)::integer AS n, coalesce(sum(i.bytes_transferred), 0)::bigint AS bytes
       FROM ${table.runs} r LEFT JOIN ${table.items} i ON i.run_id = r.id
       WHERE r.id = $1 GROUP BY i.state`,
      [runId],
    )
    if (rows.length === 0) throw new BridgeError('NOT_FOUND', `run ${runId} not found`)
    const counts: RunCounts = {
      total: 0,
      pending: 0,
      transferring: 0,
      finalizing: 0,
      done: 0,
      failed: 0,
      skipped: 0,
      bytesDone: 0,
    }
    for (const row of rows) {
      if (row.state === null) continue
      counts[row.state] = row.n
      counts.total += row.n
      counts.bytesDone += row.bytes
    }
    return counts
  }

  return {
    migrate,
    createRun,
    getRun: async (id) => {
      const row = (await query<RunRow>(`SELECT * FROM ${table.runs} WHERE id = $1`, [id]))[0]
      return row ? toRun(row) : null
    },
    listRuns,
    updateRun: async (id, patch) =>
      toRun(await update<RunRow, RunPatch>(table.runs, runColumns, 'run', id, patch)),
    findRuns: async (states: RunState[]) => {
      if (states.length === 0) return []
      const rows = await query<RunRow>(
        `SELECT * FROM ${table.runs} WHERE state = ANY($1::text[]) ORDER BY created_at, id`,
        [states],
      )
      return rows.map(toRun)
    },
    countRuns: async (states, flows) => {
      if (states.length === 0 || flows.length === 0) return 0
      const rows = await query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM ${table.runs} WHERE state = ANY($1::text[]) AND flow = ANY($2::text[])`,
        [states, flows],
      )
      return single(rows, 'the run count').n
    },
    addItems,
    getItem: async (id) => {
      const row = (await query<ItemRow>(`SELECT * FROM ${table.items} WHERE id = $1`, [id]))[0]
      return row ? toItem(row) : null
    },
    listItems: async (runId) =>
      (await query<ItemRow>(`SELECT * FROM ${table.items} WHERE run_id = $1 ORDER BY id`, [runId])).map(
        toItem,
      ),
    updateItem: async (id, patch) =>
      toItem(await update<ItemRow, ItemPatch>(table.items, itemColumns, 'item', id, patch)),
    findItems: async (states) => {
      if (states.length === 0) return []
      const rows = await query<ItemRow>(
        `SELECT * FROM ${table.items} WHERE state = ANY($1::text[]) ORDER BY created_at, id`,
        [states],
      )
      return rows.map(toItem)
    },
    ledgerOwners,
    pruneRuns,
    pruneReviews,
    releaseLedger: async (itemId) => {
      // Keyed by item id, so a key already re-claimed by a newer item is left alone.
      await query(`DELETE FROM ${table.ledger} WHERE item_id = $1`, [itemId])
    },
    runCounts,
    activeItemCount: async () => {
      const rows = await query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM ${table.items} WHERE state = ANY($1::text[])`,
        [activeItemStates],
      )
      return single(rows, 'the active item count').n
    },
    createReview: async (input) => {
      const at = isoNow()
      const { correlationId, flow, fileId, originalName, returnedName, ...rest } = input
      // ON CONFLICT DO NOTHING: two replicas rejecting the same file at once get one review.
      const inserted = await query<ReviewRow>(
        `INSERT INTO ${table.reviews} (correlation_id, flow, file_id, state, original_name, returned_name, data,
                                       created_at, updated_at)
         VALUES ($1, $2, $3, 'rejecting', $4, $5, $6::jsonb, $7::timestamptz, $7::timestamptz)
         ON CONFLICT (flow, file_id) DO NOTHING RETURNING *`,
        [correlationId, flow, fileId, originalName, returnedName, JSON.stringify(reviewDataOf(rest)), at],
      )
      if (inserted[0]) return { outcome: 'created', review: toReview(inserted[0]) }
      const existing = await query<ReviewRow>(
        `SELECT * FROM ${table.reviews} WHERE flow = $1 AND file_id = $2`,
        [flow, fileId],
      )
      return { outcome: 'existing', review: toReview(single(existing, `review of ${fileId}`)) }
    },
    getReview: async (correlationId) => {
      const rows = await query<ReviewRow>(`SELECT * FROM ${table.reviews} WHERE correlation_id = $1`, [
        correlationId,
      ])
      return rows[0] ? toReview(rows[0]) : null
    },
    findReviews: async (q) => {
      const where: string[] = []
      const values: unknown[] = []
      const param = (value: unknown) => {
        values.push(value)
        return `$${values.length}`
      }
      if (q.flow !== undefined) where.push(`flow = ${param(q.flow)}`)
      if (q.fileId !== undefined) where.push(`file_id = ${param(q.fileId)}`)
      if (q.states !== undefined) {
        if (q.states.length === 0) return []
        where.push(`state = ANY(${param(q.states)}::text[])`)
      }
      if (q.names !== undefined) {
        if (q.names.length === 0) return []
        const names = param(q.names)
        where.push(`(original_name = ANY(${names}::text[]) OR returned_name = ANY(${names}::text[]))`)
      }
      const rows = await query<ReviewRow>(
        `SELECT * FROM ${table.reviews} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at, correlation_id`,
        values,
      )
      return rows.map(toReview)
    },
    updateReview: async (correlationId, patch) => {
      const { state, ...data } = patch
      const rows = await query<ReviewRow>(
        `UPDATE ${table.reviews} SET state = COALESCE($2, state), data = data || $3::jsonb,
                updated_at = $4::timestamptz
         WHERE correlation_id = $1 RETURNING *`,
        [correlationId, state ?? null, JSON.stringify(reviewDataOf(data)), isoNow()],
      )
      if (!rows[0]) throw new BridgeError('NOT_FOUND', `review ${correlationId} does not exist`)
      return toReview(rows[0])
    },
    ping: async () => {
      await query('SELECT 1')
    },
    close: () => {
      closed = true
      // pool.end() may be called once; later calls wait for the same shutdown.
      ended ??= pool.end()
      return ended
    },
  }
}

function validateOptions(options: PostgresStoreOptions): {
  url: string
  schema: string
  poolSize: number
  statementTimeoutMs: number
} {
  if (!/^postgres(ql)?:\/\//.test(options.url)) {
    throw new BridgeError('CONFIG_INVALID', 'the PostgreSQL URL must start with postgres:// or postgresql://')
  }
  const schema = options.schema ?? 'public'
  // The schema name is spliced into SQL (identifiers cannot be parameters), so only plain names pass.
  if (!schemaNamePattern.test(schema)) {
    throw new BridgeError('CONFIG_INVALID', `schema must match ${schemaNamePattern}, got "${schema}"`)
  }
  const poolSize = options.poolSize ?? 10
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new BridgeError('CONFIG_INVALID', `poolSize must be a positive integer, got ${poolSize}`)
  }
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000
  if (!Number.isInteger(statementTimeoutMs) || statementTimeoutMs < 0) {
    throw new BridgeError(
      'CONFIG_INVALID',
      `statementTimeoutMs must be a non-negative integer, got ${statementTimeoutMs}`,
    )
  }
  return { url: options.url, schema, poolSize, statementTimeoutMs }
}

const parseTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (
  text: string,
) => Date

/**
 * This pool's result parsers (pg's global ones stay untouched): timestamptz
 * comes back as the same ISO string the SQLite store returns, and bigint as
 * a number, because sizes, offsets and millisecond times stay far below 2^53.
 * Shared with the run-lease pool (postgres-leases.ts), which reads the same rows.
 */
export const getTypeParser = ((oid: number, format?: 'text' | 'binary') => {
  if (format !== 'binary') {
    if (oid === pg.types.builtins.TIMESTAMPTZ) return (text: string) => parseTimestamptz(text).toISOString()
    if (oid === pg.types.builtins.INT8) return parseSafeInteger
  }
  return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text')
}) as typeof pg.types.getTypeParser

function parseSafeInteger(text: string): number {
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new BridgeError('INTERNAL', `integer ${text} does not fit a number`)
  return value
}

/** The advisory lock a retention batch takes: one per schema, so one pruner at a time across replicas. */
export function retentionLockKeyOf(schema: string): string {
  return createHash('sha256')
    .update(`sdrive-ftp-bridge:retention:${schema}`)
    .digest()
    .readBigInt64BE(0)
    .toString()
}

function ownerOf(row: OwnerRow): LedgerOwner {
  return { itemId: row.item_id, state: row.state, recordId: row.record_id }
}

function single<R>(rows: R[], what: string): R {
  const row = rows[0]
  if (row === undefined) throw new BridgeError('INTERNAL', `${what} is missing`)
  return row
}

function assignments<P extends object>(
  columns: Record<keyof P, { column: string; cast: Cast }>,
  patch: P,
): { sets: string[]; values: unknown[] } {
  const sets: string[] = []
  const values: unknown[] = []
  for (const [key, value] of Object.entries(patch)) {
    const spec = columns[key as keyof P]
    // Unknown keys are ignored rather than interpolated: column names come only from the table above.
    if (spec === undefined || value === undefined) continue
    values.push(spec.cast === 'jsonb' ? toJson(value) : value)
    sets.push(`${spec.column} = $${values.length}${spec.cast ? `::${spec.cast}` : ''}`)
  }
  return { sets, values }
}

/** JSON goes in as text: pg would otherwise send a JS array as a PostgreSQL array, not as JSON. */
function toJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value)
}

// JSONB arrives decoded by pg.
const decoded: JsonDecoder<unknown> = <T>(value: unknown) => (value ?? null) as T | null

type RunRow = RunRowOf<unknown>
type ItemRow = ItemRowOf<unknown>
const toRun = (row: RunRow): RunRecord => toRunRecord(row, decoded)
const toItem = (row: ItemRow): ItemRecord => toItemRecord(row, decoded)
type ReviewRow = ReviewRowOf<unknown>
const toReview = (row: ReviewRow): ReviewRecord => toReviewRecord(row, decoded)
