/**
 * The embedded Store: one SQLite file (better-sqlite3). Reads run at once;
 * writes go through the connection's group commit (sqlite-connection.ts) and
 * resolve once they are on disk.
 */
import type { Store } from '../../ports/store.js'
import { createIdGenerator } from './ids.js'
import { migrations as defaultMigrations, type Migration } from './migrations/index.js'
import { getCheckpoint, saveCheckpoint } from './sqlite-checkpoints.js'
import { openSqlite, type SqliteConnection } from './sqlite-connection.js'
import {
  createSession,
  deleteExpiredSessions,
  deleteSession,
  listRunItems,
  outcomeHistogram,
  runSizes,
  touchSession,
} from './sqlite-console.js'
import {
  itemRow,
  reviewRow,
  runRow,
  type SqliteStoreContext,
  toItem,
  toReview,
  toRun,
} from './sqlite-context.js'
import {
  activeItemCount,
  addItems,
  findItems,
  ledgerOwners,
  listItems,
  releaseLedger,
  updateItem,
  uploadDigests,
} from './sqlite-items.js'
import { migrate } from './sqlite-migrate.js'
import { claimOutbox, insertOutbox, listOutbox, nextOutboxDue, settleOutbox } from './sqlite-outbox.js'
import { listFileOutcomes } from './sqlite-outcomes.js'
import { pruneReviewsIn, pruneRunsIn } from './sqlite-retention.js'
import { createReview, findReviews, updateReview } from './sqlite-reviews.js'
import { countRuns, createRun, findRuns, listRuns, runCounts, updateRun } from './sqlite-runs.js'

export interface SqliteStoreOptions {
  /** Database file, or ':memory:'. */
  path: string
  /** A connection to share (with the run leases); else the store opens its own on `path`. */
  connection?: SqliteConnection
  /** How long a writer waits for another connection's lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number
  /** Clock for ids and timestamps (tests). */
  now?: () => number
  /** Migrations to apply (tests of the migration runner). */
  migrations?: readonly Migration[]
}

export function createSqliteStore(options: SqliteStoreOptions): Store {
  const now = options.now ?? Date.now
  const migrations = options.migrations ?? defaultMigrations
  const connection = options.connection?.share() ?? openSqlite(options)
  const ctx: SqliteStoreContext = {
    db: connection.db,
    write: connection.write,
    writeNow: connection.writeNow,
    nextId: createIdGenerator(now),
    isoNow: () => new Date(now()).toISOString(),
  }

  return {
    migrate: async () => migrate(ctx, migrations),

    createRun: (input) => createRun(ctx, input),
    getCheckpoint: async (stream) => getCheckpoint(ctx, stream),
    saveCheckpoint: (checkpoint) => saveCheckpoint(ctx, checkpoint),
    getRun: async (id) => {
      const row = runRow(ctx, id)
      return row ? toRun(row) : null
    },
    listRuns: async (query) => listRuns(ctx, query),
    updateRun: (id, patch, outbox) => updateRun(ctx, id, patch, outbox),
    findRuns: async (states) => findRuns(ctx, states),
    countRuns: async (states, flows) => countRuns(ctx, states, flows),
    runCounts: async (runId) => runCounts(ctx, runId),

    addItems: (runId, items) => addItems(ctx, runId, items),
    getItem: async (id) => {
      const row = itemRow(ctx, id)
      return row ? toItem(row) : null
    },
    listItems: async (runId) => listItems(ctx, runId),
    listRunItems: async (runId, query) => listRunItems(ctx, runId, query),
    outcomeHistogram: async (query) => outcomeHistogram(ctx, query),
    runSizes: async (runId) => runSizes(ctx, runId),
    updateItem: (id, patch) => updateItem(ctx, id, patch),
    findItems: async (states) => findItems(ctx, states),
    listFileOutcomes: async (query) => listFileOutcomes(ctx, query),
    ledgerOwners: async (keys) => ledgerOwners(ctx, keys),
    uploadDigests: async (fileIds) => uploadDigests(ctx, fileIds),
    releaseLedger: (itemId) => releaseLedger(ctx, itemId),
    activeItemCount: async () => activeItemCount(ctx),

    createReview: (input, outbox) => createReview(ctx, input, outbox),
    getReview: async (correlationId) => {
      const row = reviewRow(ctx, correlationId)
      return row ? toReview(row) : null
    },
    findReviews: async (q) => findReviews(ctx, q),
    updateReview: (correlationId, patch) => updateReview(ctx, correlationId, patch),

    enqueueOutbox: (messages) => ctx.write((db) => insertOutbox(ctx, db, messages)),
    claimOutbox: (query) => claimOutbox(ctx, query),
    settleOutbox: (id, owner, settlement) => settleOutbox(ctx, id, owner, settlement),
    listOutbox: async (query) => listOutbox(ctx, query),
    nextOutboxDue: async (channels) => nextOutboxDue(ctx, channels),
    createSession: (session) => createSession(ctx, session),
    touchSession: (idHash, at) => touchSession(ctx, idHash, at),
    deleteSession: (idHash) => deleteSession(ctx, idHash),
    deleteExpiredSessions: (at) => deleteExpiredSessions(ctx, at),

    pruneRuns: (query) => ctx.write((conn) => pruneRunsIn(conn, query)),
    pruneReviews: (query) => ctx.write((conn) => pruneReviewsIn(conn, query)),
    ping: async () => {
      ctx.db().prepare('SELECT 1').get()
    },
    close: async () => connection.close(),
  }
}
