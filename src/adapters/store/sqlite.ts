/**
 * The embedded Store: one SQLite file (better-sqlite3). Reads run at once;
 * writes go through the connection's group commit (sqlite-connection.ts) and
 * resolve once they are on disk.
 */
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
  ReviewRecord,
  RunCounts,
  RunPatch,
  RunRecord,
  RunState,
  Store,
} from '../../ports/store.js'
import { decodeRunCursor, encodeRunCursor } from './cursor.js'
import { createIdGenerator } from './ids.js'
import { migrations as defaultMigrations, type Migration } from './migrations/index.js'
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
import { openSqlite, type SqliteConnection } from './sqlite-connection.js'
import { pruneReviewsIn, pruneRunsIn } from './sqlite-retention.js'

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

/** Patchable run fields → column, and how the value is stored. */
const runColumns: Record<keyof RunPatch, { column: string; json: boolean }> = {
  state: { column: 'state', json: false },
  startedAt: { column: 'started_at', json: false },
  finishedAt: { column: 'finished_at', json: false },
  notes: { column: 'notes', json: true },
  error: { column: 'error', json: true },
  notBefore: { column: 'not_before', json: false },
}

const itemColumns: Record<keyof ItemPatch, { column: string; json: boolean }> = {
  state: { column: 'state', json: false },
  attempts: { column: 'attempts', json: false },
  nextAttemptAt: { column: 'next_attempt_at', json: false },
  target: { column: 'target', json: true },
  wipFileId: { column: 'wip_file_id', json: false },
  sdriveFileId: { column: 'sdrive_file_id', json: false },
  sha256: { column: 'sha256', json: false },
  bytesTransferred: { column: 'bytes_transferred', json: false },
  finalPath: { column: 'final_path', json: false },
  error: { column: 'error', json: true },
  detail: { column: 'detail', json: true },
}

const activeItemStates: readonly ItemState[] = ['pending', 'transferring', 'finalizing']

/**
 * Who owns a ledger key: the item while it exists, else what the ledger kept
 * of it when retention pruned it (its final state and record).
 */
const ownerSql = `SELECT l.item_id, coalesce(i.state, l.settled_state) AS state,
    coalesce(json_extract(i.target, '$.recordId'), l.record_id) AS record_id
  FROM ledger l LEFT JOIN items i ON i.id = l.item_id
  WHERE l.ledger_key = ? AND (i.id IS NOT NULL OR l.settled_state IS NOT NULL)`

interface OwnerRow {
  item_id: string
  state: ItemState
  record_id: string | null
}

export function createSqliteStore(options: SqliteStoreOptions): Store {
  const now = options.now ?? Date.now
  const nextId = createIdGenerator(now)
  const migrations = options.migrations ?? defaultMigrations
  const connection = options.connection?.share() ?? openSqlite(options)
  const open = connection.db
  const write = connection.write
  const writeNow = connection.writeNow

  const isoNow = () => new Date(now()).toISOString()

  function runRow(id: string): RunRow | undefined {
    return open().prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?').get(id)
  }

  function reviewRow(correlationId: string): ReviewRow | undefined {
    return open()
      .prepare<[string], ReviewRow>('SELECT * FROM reviews WHERE correlation_id = ?')
      .get(correlationId)
  }

  function itemRow(id: string): ItemRow | undefined {
    return open().prepare<[string], ItemRow>('SELECT * FROM items WHERE id = ?').get(id)
  }

  function migrate(): void {
    const conn = open()
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
        writeNow(() => {
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
            .run(migration.version, migration.name, isoNow())
        })
      } finally {
        conn.pragma('foreign_keys = ON')
      }
    }
  }

  function insertRun(input: CreateRunInput): RunRecord {
    const { id, ms } = nextId('run_')
    const createdAt = new Date(ms).toISOString()
    open()
      .prepare(
        `INSERT INTO runs (id, flow, state, trigger, idempotency_key, created_at, updated_at, notes, request,
           not_before)
         VALUES (?, ?, ?, ?, ?, ?, ?, '[]', ?, ?)`,
      )
      .run(
        id,
        input.flow,
        input.state ?? 'queued',
        input.trigger,
        input.idempotencyKey ?? null,
        createdAt,
        createdAt,
        toJson(input.request),
        input.notBefore ?? null,
      )
    return toRun(runRow(id)!)
  }

  function createRun(input: CreateRunInput): Promise<CreateRunResult> {
    const key = input.idempotencyKey
    if (key === undefined) return write(() => ({ outcome: 'created', run: insertRun(input) }))
    return write((): CreateRunResult => {
      const conn = open()
      const previous = conn
        .prepare<[string], { run_id: string; request_hash: string | null }>(
          'SELECT run_id, request_hash FROM idempotency WHERE key = ?',
        )
        .get(key)
      if (previous) {
        const run = toRun(runRow(previous.run_id)!)
        // The flow is part of the request: one key reused for another flow is a conflict even without hashes.
        const same = previous.request_hash === (input.requestHash ?? null) && run.flow === input.flow
        return { outcome: same ? 'existing' : 'conflict', run }
      }
      const run = insertRun(input)
      conn
        .prepare('INSERT INTO idempotency (key, run_id, request_hash, created_at) VALUES (?, ?, ?, ?)')
        .run(key, run.id, input.requestHash ?? null, run.createdAt)
      return { outcome: 'created', run }
    })
  }

  function listRuns(query: ListRunsQuery): { runs: RunRecord[]; nextCursor: string | null } {
    if (!Number.isInteger(query.limit) || query.limit < 1) {
      throw new BridgeError('VALIDATION_FAILED', `limit must be a positive integer, got ${query.limit}`)
    }
    const where: string[] = []
    const params: (string | number)[] = []
    if (query.flow !== undefined) {
      where.push('flow = ?')
      params.push(query.flow)
    }
    if (query.flows !== undefined) {
      // No flow at all matches no run (an empty IN list is not valid SQL everywhere).
      where.push(query.flows.length === 0 ? '0' : `flow IN (${placeholders(query.flows.length)})`)
      params.push(...query.flows)
    }
    if (query.state !== undefined) {
      where.push('state = ?')
      params.push(query.state)
    }
    if (query.cursor !== undefined) {
      const cursor = decodeRunCursor(query.cursor)
      where.push('(created_at, id) < (?, ?)')
      params.push(cursor.createdAt, cursor.id)
    }
    // One extra row tells whether another page exists without a count query.
    params.push(query.limit + 1)
    const rows = open()
      .prepare<(string | number)[], RunRow>(
        `SELECT * FROM runs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at DESC, id DESC LIMIT ?`,
      )
      .all(...params)
    const page = rows.slice(0, query.limit).map(toRun)
    const last = page[page.length - 1]
    const nextCursor =
      rows.length > query.limit && last ? encodeRunCursor({ createdAt: last.createdAt, id: last.id }) : null
    return { runs: page, nextCursor }
  }

  function updateRun(id: string, patch: RunPatch): Promise<RunRecord> {
    return write(() => {
      const { sets, values } = assignments(runColumns, patch)
      const result = open()
        .prepare(`UPDATE runs SET ${[...sets, 'updated_at = ?'].join(', ')} WHERE id = ?`)
        .run(...values, isoNow(), id)
      if (result.changes === 0) throw new BridgeError('NOT_FOUND', `run ${id} not found`)
      return toRun(runRow(id)!)
    })
  }

  function findRuns(states: RunState[]): RunRecord[] {
    if (states.length === 0) return []
    return open()
      .prepare<string[], RunRow>(
        `SELECT * FROM runs WHERE state IN (${placeholders(states.length)}) ORDER BY created_at, id`,
      )
      .all(...states)
      .map(toRun)
  }

  function addItems(runId: string, items: NewItem[]): Promise<AddItemsResult> {
    return write(() => {
      const conn = open()
      const run = runRow(runId)
      if (!run) throw new BridgeError('NOT_FOUND', `run ${runId} not found`)
      const claim = conn.prepare(
        'INSERT INTO ledger (ledger_key, item_id, claimed_at) VALUES (?, ?, ?) ON CONFLICT (ledger_key) DO NOTHING',
      )
      // Prepared only when a key is taken: a store still on an older schema (migration tests) can add items.
      const owner = () => conn.prepare<[string], OwnerRow>(ownerSql)
      const insert = conn.prepare(
        `INSERT INTO items (id, run_id, flow, endpoint, path, name, size, modified_at, ledger_key, state,
           target, error, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      const added: ItemRecord[] = []
      const duplicates: AddItemsResult['duplicates'] = []
      for (const item of items) {
        const { id, ms } = nextId('itm_')
        const createdAt = new Date(ms).toISOString()
        // The claim comes first: the ledger's primary key, not a lookup, decides who gets the file.
        if (claim.run(item.ledgerKey, id, createdAt).changes === 0) {
          const taken = owner().get(item.ledgerKey)!
          duplicates.push({ item, ownerItemId: taken.item_id, ownerState: taken.state })
          continue
        }
        insert.run(
          id,
          runId,
          run.flow,
          item.endpoint,
          item.path,
          item.name,
          item.size,
          item.modifiedAt,
          item.ledgerKey,
          item.state ?? 'pending',
          toJson(item.target),
          toJson(item.error ?? null),
          createdAt,
          createdAt,
        )
        added.push(toItem(itemRow(id)!))
      }
      return { added, duplicates }
    })
  }

  function updateItem(id: string, patch: ItemPatch): Promise<ItemRecord> {
    return write(() => {
      const { sets, values } = assignments(itemColumns, patch)
      const result = open()
        .prepare(`UPDATE items SET ${[...sets, 'updated_at = ?'].join(', ')} WHERE id = ?`)
        .run(...values, isoNow(), id)
      if (result.changes === 0) throw new BridgeError('NOT_FOUND', `item ${id} not found`)
      return toItem(itemRow(id)!)
    })
  }

  function findItems(states: ItemState[]): ItemRecord[] {
    if (states.length === 0) return []
    return open()
      .prepare<string[], ItemRow>(
        `SELECT * FROM items WHERE state IN (${placeholders(states.length)}) ORDER BY created_at, id`,
      )
      .all(...states)
      .map(toItem)
  }

  function ledgerOwners(keys: string[]): Map<string, LedgerOwner> {
    const owners = new Map<string, LedgerOwner>()
    const lookup = open().prepare<[string], OwnerRow>(ownerSql)
    // One read transaction: every answer comes from the same snapshot.
    open().transaction(() => {
      for (const key of new Set(keys)) {
        const row = lookup.get(key)
        if (row) owners.set(key, { itemId: row.item_id, state: row.state, recordId: row.record_id })
      }
    })()
    return owners
  }

  function runCounts(runId: string): RunCounts {
    const conn = open()
    if (!runRow(runId)) throw new BridgeError('NOT_FOUND', `run ${runId} not found`)
    const rows = conn
      .prepare<[string], { state: ItemState; n: number; bytes: number }>(
        `SELECT state, count(*) AS n, coalesce(sum(bytes_transferred), 0) AS bytes
         FROM items WHERE run_id = ? GROUP BY state`,
      )
      .all(runId)
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
      counts[row.state] = row.n
      counts.total += row.n
      counts.bytesDone += row.bytes
    }
    return counts
  }

  return {
    migrate: async () => migrate(),
    createRun: (input) => createRun(input),
    getRun: async (id) => {
      const row = runRow(id)
      return row ? toRun(row) : null
    },
    listRuns: async (query) => listRuns(query),
    updateRun: (id, patch) => updateRun(id, patch),
    findRuns: async (states) => findRuns(states),
    countRuns: async (states, flows) => {
      if (states.length === 0 || flows.length === 0) return 0
      return open()
        .prepare<string[], { n: number }>(
          `SELECT count(*) AS n FROM runs
           WHERE state IN (${placeholders(states.length)}) AND flow IN (${placeholders(flows.length)})`,
        )
        .get(...states, ...flows)!.n
    },
    addItems: (runId, items) => addItems(runId, items),
    getItem: async (id) => {
      const row = itemRow(id)
      return row ? toItem(row) : null
    },
    listItems: async (runId) =>
      open()
        .prepare<[string], ItemRow>('SELECT * FROM items WHERE run_id = ? ORDER BY id')
        .all(runId)
        .map(toItem),
    updateItem: (id, patch) => updateItem(id, patch),
    findItems: async (states) => findItems(states),
    ledgerOwners: async (keys) => ledgerOwners(keys),
    releaseLedger: async (itemId) => {
      // Keyed by item id, so a key already re-claimed by a newer item is left alone.
      await write((conn) => conn.prepare('DELETE FROM ledger WHERE item_id = ?').run(itemId))
    },
    runCounts: async (runId) => runCounts(runId),
    activeItemCount: async () =>
      open()
        .prepare<string[], { n: number }>(
          `SELECT count(*) AS n FROM items WHERE state IN (${placeholders(activeItemStates.length)})`,
        )
        .get(...activeItemStates)!.n,
    createReview: (input) =>
      write(() => {
        const existing = open()
          .prepare<[string, string], ReviewRow>('SELECT * FROM reviews WHERE flow = ? AND file_id = ?')
          .get(input.flow, input.fileId)
        if (existing) return { outcome: 'existing' as const, review: toReview(existing) }
        const at = isoNow()
        const { correlationId, flow, fileId, originalName, returnedName, ...rest } = input
        open()
          .prepare(
            `INSERT INTO reviews (correlation_id, flow, file_id, state, original_name, returned_name, data,
                                  created_at, updated_at)
             VALUES (?, ?, ?, 'rejecting', ?, ?, ?, ?, ?)`,
          )
          .run(
            correlationId,
            flow,
            fileId,
            originalName,
            returnedName,
            JSON.stringify(reviewDataOf(rest)),
            at,
            at,
          )
        return { outcome: 'created' as const, review: toReview(reviewRow(correlationId) as ReviewRow) }
      }),
    getReview: async (correlationId) => {
      const row = reviewRow(correlationId)
      return row ? toReview(row) : null
    },
    findReviews: async (q) => {
      const where: string[] = []
      const values: string[] = []
      if (q.flow !== undefined) {
        where.push('flow = ?')
        values.push(q.flow)
      }
      if (q.fileId !== undefined) {
        where.push('file_id = ?')
        values.push(q.fileId)
      }
      if (q.states !== undefined) {
        if (q.states.length === 0) return []
        where.push(`state IN (${placeholders(q.states.length)})`)
        values.push(...q.states)
      }
      if (q.names !== undefined) {
        if (q.names.length === 0) return []
        const list = placeholders(q.names.length)
        where.push(`(original_name IN (${list}) OR returned_name IN (${list}))`)
        values.push(...q.names, ...q.names)
      }
      const sql = `SELECT * FROM reviews ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
                   ORDER BY created_at, correlation_id`
      return open()
        .prepare<string[], ReviewRow>(sql)
        .all(...values)
        .map(toReview)
    },
    updateReview: (correlationId, patch) =>
      write(() => {
        const row = reviewRow(correlationId)
        if (!row) throw new BridgeError('NOT_FOUND', `review ${correlationId} does not exist`)
        const { state, ...data } = patch
        const merged = { ...(JSON.parse(row.data) as object), ...reviewDataOf(data) }
        open()
          .prepare('UPDATE reviews SET state = ?, data = ?, updated_at = ? WHERE correlation_id = ?')
          .run(state ?? row.state, JSON.stringify(merged), isoNow(), correlationId)
        return toReview(reviewRow(correlationId) as ReviewRow)
      }),
    pruneRuns: (query) => write((conn) => pruneRunsIn(conn, query)),
    pruneReviews: (query) => write((conn) => pruneReviewsIn(conn, query)),
    ping: async () => {
      open().prepare('SELECT 1').get()
    },
    close: async () => connection.close(),
  }
}

function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ')
}

function assignments<P extends object>(
  columns: Record<keyof P, { column: string; json: boolean }>,
  patch: P,
): { sets: string[]; values: unknown[] } {
  const sets: string[] = []
  const values: unknown[] = []
  for (const [key, value] of Object.entries(patch)) {
    const spec = columns[key as keyof P]
    // Unknown keys are ignored rather than interpolated: column names come only from the table above.
    if (spec === undefined || value === undefined) continue
    sets.push(`${spec.column} = ?`)
    values.push(spec.json ? toJson(value) : value)
  }
  return { sets, values }
}

function toJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value)
}

const fromJsonText: JsonDecoder<string | null> = <T>(text: string | null) =>
  text === null ? null : (JSON.parse(text) as T)

type RunRow = RunRowOf<string | null>
type ItemRow = ItemRowOf<string | null>
const toRun = (row: RunRow): RunRecord => toRunRecord(row, fromJsonText)
const toItem = (row: ItemRow): ItemRecord => toItemRecord(row, fromJsonText)
type ReviewRow = ReviewRowOf<string>
const toReview = (row: ReviewRow): ReviewRecord => toReviewRecord(row, fromJsonText)
