/**
 * The shared Store: PostgreSQL through a pg Pool, for several replicas on one
 * database. Same contract as the SQLite store (test/contract/store.test.ts).
 * Whatever must hold across replicas (a ledger key claimed once, one run per
 * idempotency key, migrations applied once) is decided by the database — a
 * unique constraint or an advisory lock — never by state in this process.
 */
import pg from 'pg'
import { BridgeError } from '../../domain/errors.js'
import type { Store } from '../../ports/store.js'
import { createIdGenerator } from './ids.js'
import { getCheckpoint, saveCheckpoint } from './postgres-checkpoints.js'
import {
  createSession,
  deleteExpiredSessions,
  deleteSession,
  listRunItems,
  outcomeHistogram,
  runSizes,
  touchSession,
} from './postgres-console.js'
import type { PgStoreContext, PgTables, Query } from './postgres-context.js'
import { translateError } from './postgres-errors.js'
import {
  activeItemCount,
  addItems,
  findItems,
  getItem,
  ledgerOwners,
  listItems,
  releaseLedger,
  updateItem,
  uploadDigests,
} from './postgres-items.js'
import { migrate } from './postgres-migrate.js'
import { migrations as defaultMigrations, type Migration } from './postgres-migrations/index.js'
import { claimOutbox, insertOutbox, listOutbox, nextOutboxDue, settleOutbox } from './postgres-outbox.js'
import { listFileOutcomes } from './postgres-outcomes.js'
import { pruneReviews, pruneRuns } from './postgres-retention.js'
import { createReview, findReviews, getReview, updateReview } from './postgres-reviews.js'
import { countRuns, createRun, findRuns, getRun, listRuns, runCounts, updateRun } from './postgres-runs.js'

export { retentionLockKeyOf } from './postgres-retention.js'

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

const schemaNamePattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

function tablesOf(schema: string): PgTables {
  const schemaId = `"${schema}"`
  return {
    migrations: `${schemaId}.schema_migrations`,
    runs: `${schemaId}.runs`,
    items: `${schemaId}.items`,
    ledger: `${schemaId}.ledger`,
    idempotency: `${schemaId}.idempotency`,
    reviews: `${schemaId}.reviews`,
    outbox: `${schemaId}.outbox`,
    sessions: `${schemaId}.console_sessions`,
  }
}

export function createPostgresStore(options: PostgresStoreOptions): Store {
  const { url, schema, poolSize, statementTimeoutMs } = validateOptions(options)
  const now = options.now ?? Date.now
  const migrations = [...(options.migrations ?? defaultMigrations)].sort((a, b) => a.version - b.version)
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
  const open = (): pg.Pool => {
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
  const ctx: PgStoreContext = {
    schema,
    table: tablesOf(schema),
    pool: open,
    query,
    nextId: createIdGenerator(now),
    isoNow: () => new Date(now()).toISOString(),
  }

  return {
    migrate: () => migrate(ctx, migrations),

    createRun: (input) => createRun(ctx, input),
    getCheckpoint: async (stream) => getCheckpoint(ctx, stream),
    saveCheckpoint: (checkpoint) => saveCheckpoint(ctx, checkpoint),
    getRun: (id) => getRun(ctx, id),
    listRuns: (q) => listRuns(ctx, q),
    updateRun: (id, patch, outbox) => updateRun(ctx, id, patch, outbox),
    findRuns: (states) => findRuns(ctx, states),
    countRuns: (states, flows) => countRuns(ctx, states, flows),
    runCounts: (runId) => runCounts(ctx, runId),

    addItems: (runId, items) => addItems(ctx, runId, items),
    getItem: (id) => getItem(ctx, id),
    listItems: (runId) => listItems(ctx, runId),
    listRunItems: (runId, query) => listRunItems(ctx, runId, query),
    outcomeHistogram: (query) => outcomeHistogram(ctx, query),
    runSizes: (runId) => runSizes(ctx, runId),
    updateItem: (id, patch) => updateItem(ctx, id, patch),
    findItems: (states) => findItems(ctx, states),
    listFileOutcomes: (query) => listFileOutcomes(ctx, query),
    ledgerOwners: (keys) => ledgerOwners(ctx, keys),
    uploadDigests: (fileIds) => uploadDigests(ctx, fileIds),
    releaseLedger: (itemId) => releaseLedger(ctx, itemId),
    activeItemCount: () => activeItemCount(ctx),

    createReview: (input, outbox) => createReview(ctx, input, outbox),
    getReview: (correlationId) => getReview(ctx, correlationId),
    findReviews: (q) => findReviews(ctx, q),
    updateReview: (correlationId, patch) => updateReview(ctx, correlationId, patch),

    enqueueOutbox: (messages) => insertOutbox(ctx, ctx.query, messages),
    claimOutbox: (q) => claimOutbox(ctx, q),
    settleOutbox: (id, owner, settlement) => settleOutbox(ctx, id, owner, settlement),
    listOutbox: (q) => listOutbox(ctx, q),
    nextOutboxDue: (channels) => nextOutboxDue(ctx, channels),
    createSession: (session) => createSession(ctx, session),
    touchSession: (idHash, at) => touchSession(ctx, idHash, at),
    deleteSession: (idHash) => deleteSession(ctx, idHash),
    deleteExpiredSessions: (at) => deleteExpiredSessions(ctx, at),

    pruneRuns: (q) => pruneRuns(ctx, q),
    pruneReviews: (q) => pruneReviews(ctx, q),
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
