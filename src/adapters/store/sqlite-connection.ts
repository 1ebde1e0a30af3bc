/**
 * One SQLite connection (better-sqlite3) with group commit, shared by the
 * store and the run leases of one process.
 *
 * With `synchronous = FULL` every COMMIT is a WAL fsync, and better-sqlite3
 * is synchronous, so a commit per write stops the event loop once per write.
 * Here the writes issued in one turn of the event loop are queued and run
 * together at the end of it, in one IMMEDIATE transaction: one fsync for all
 * of them. Each write runs in its own savepoint, so a write that throws rolls
 * back alone and only its caller sees the error. A write's promise resolves
 * only after the shared COMMIT, so "resolved" still means "on disk" (a 202
 * is never answered for a job that a power cut could lose).
 */
import Database from 'better-sqlite3'
import { BridgeError } from '../../domain/errors.js'

export interface SqliteConnectionOptions {
  /** Database file, or ':memory:'. */
  path: string
  /** How long a writer waits for another connection's lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number
}

export interface SqliteConnection {
  /** The open database, for reads (they see committed data only: no transaction stays open across turns). */
  db(): Database.Database
  /** Runs `fn` in the next group commit; resolves with its result once that commit is on disk. */
  write<T>(fn: (db: Database.Database) => T): Promise<T>
  /** Runs `fn` now, in an IMMEDIATE transaction of its own (migrations, which must not share one). */
  writeNow<T>(fn: (db: Database.Database) => T): T
  /** Another user of this connection: the database closes when every user has closed it. */
  share(): SqliteConnection
  close(): void
}

interface QueuedWrite {
  run: (db: Database.Database) => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

export function openSqlite(options: SqliteConnectionOptions): SqliteConnection {
  const db = new Database(options.path)
  db.pragma('journal_mode = WAL')
  // FULL, not NORMAL: in WAL mode NORMAL can lose the last commits on a power
  // cut. A lost ledger claim or item state would let a file already uploaded
  // to S-Drive be uploaded again, which is exactly what the ledger prevents.
  db.pragma('synchronous = FULL')
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`)
  db.pragma('foreign_keys = ON')
  memoizePrepare(db)

  let users = 0
  let closed = false
  let queue: QueuedWrite[] = []
  let flushScheduled = false

  const open = (): Database.Database => {
    if (closed) throw new BridgeError('INTERNAL', 'store is closed')
    return db
  }

  function flush(): void {
    flushScheduled = false
    const batch = queue
    queue = []
    if (batch.length === 0) return
    if (closed) {
      for (const w of batch) w.reject(new BridgeError('INTERNAL', 'store is closed'))
      return
    }
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = []
    try {
      db.transaction(() => {
        for (const w of batch) {
          try {
            // Nested in the outer transaction, better-sqlite3 runs this in a savepoint.
            outcomes.push({ ok: true, value: db.transaction(w.run)(db) })
          } catch (error) {
            outcomes.push({ ok: false, error })
          }
        }
      }).immediate()
    } catch (error) {
      // BEGIN or COMMIT failed: nothing of the batch is on disk.
      const failure = translateBusy(error)
      for (const w of batch) w.reject(failure)
      return
    }
    batch.forEach((w, i) => {
      const outcome = outcomes[i]!
      if (outcome.ok) w.resolve(outcome.value)
      else w.reject(outcome.error)
    })
  }

  function handle(): SqliteConnection {
    users += 1
    let released = false
    return {
      db: open,
      write<T>(fn: (conn: Database.Database) => T): Promise<T> {
        try {
          open()
        } catch (error) {
          return Promise.reject(error)
        }
        return new Promise<T>((resolve, reject) => {
          queue.push({ run: fn, resolve: resolve as (value: unknown) => void, reject })
          if (!flushScheduled) {
            flushScheduled = true
            setImmediate(flush)
          }
        })
      },
      writeNow<T>(fn: (conn: Database.Database) => T): T {
        const conn = open()
        try {
          return conn.transaction(() => fn(conn)).immediate()
        } catch (error) {
          throw translateBusy(error)
        }
      },
      share: handle,
      close() {
        if (released) return
        released = true
        users -= 1
        if (users > 0 || closed) return
        // Writes already queued still commit: their callers were promised an answer.
        flush()
        closed = true
        db.close()
      },
    }
  }

  return handle()
}

/** Most distinct statements kept prepared; past it the cache starts over (dynamic SQL cannot grow it without bound). */
const MAX_PREPARED = 500

/**
 * Makes `db.prepare` return the statement prepared before for the same SQL:
 * compiling it again on every call was a fifth of the store's CPU under
 * load. Safe here because no statement is left mid-iteration (no
 * `iterate()`) and none is switched to pluck/raw mode, so a shared
 * statement behaves exactly like a fresh one.
 */
function memoizePrepare(db: Database.Database): void {
  const prepared = new Map<string, Database.Statement>()
  const prepare = db.prepare.bind(db)
  db.prepare = ((sql: string) => {
    let statement = prepared.get(sql)
    if (!statement) {
      if (prepared.size >= MAX_PREPARED) prepared.clear()
      statement = prepare(sql)
      prepared.set(sql, statement)
    }
    return statement
  }) as typeof db.prepare
}

/** Another connection held the write lock longer than busy_timeout: worth retrying, not a bug. */
function translateBusy(error: unknown): unknown {
  if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY')) {
    return new BridgeError('INTERNAL', `store is busy: ${error.message}`, { transient: true, cause: error })
  }
  return error
}
