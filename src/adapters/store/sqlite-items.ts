/** Items and the ledger in the SQLite store: add (claiming ledger keys), update, find, count. */
import { BridgeError } from '../../domain/errors.js'
import type {
  AddItemsResult,
  ItemPatch,
  ItemRecord,
  ItemState,
  LedgerOwner,
  NewItem,
} from '../../ports/store.js'
import {
  assignments,
  type ItemRow,
  itemRow,
  placeholders,
  runRow,
  type SqliteStoreContext,
  toItem,
  toJson,
} from './sqlite-context.js'

const itemColumns: Record<keyof ItemPatch, { column: string; json: boolean }> = {
  state: { column: 'state', json: false },
  attempts: { column: 'attempts', json: false },
  nextAttemptAt: { column: 'next_attempt_at', json: false },
  target: { column: 'target', json: true },
  wipFileId: { column: 'wip_file_id', json: false },
  sdriveFileId: { column: 'sdrive_file_id', json: false },
  sha256: { column: 'sha256', json: false },
  bytesTransferred: { column: 'bytes_transferred', json: false },
  bytesMoved: { column: 'bytes_moved', json: false },
  resumes: { column: 'resumes', json: false },
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

export function addItems(ctx: SqliteStoreContext, runId: string, items: NewItem[]): Promise<AddItemsResult> {
  return ctx.write(() => {
    const conn = ctx.db()
    const run = runRow(ctx, runId)
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
      const { id, ms } = ctx.nextId('itm_')
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
      added.push(toItem(itemRow(ctx, id)!))
    }
    return { added, duplicates }
  })
}

export function updateItem(ctx: SqliteStoreContext, id: string, patch: ItemPatch): Promise<ItemRecord> {
  return ctx.write(() => {
    const { sets, values } = assignments(itemColumns, patch)
    const result = ctx
      .db()
      .prepare(`UPDATE items SET ${[...sets, 'updated_at = ?'].join(', ')} WHERE id = ?`)
      .run(...values, ctx.isoNow(), id)
    if (result.changes === 0) throw new BridgeError('NOT_FOUND', `item ${id} not found`)
    return toItem(itemRow(ctx, id)!)
  })
}

export function findItems(ctx: SqliteStoreContext, states: ItemState[]): ItemRecord[] {
  if (states.length === 0) return []
  return ctx
    .db()
    .prepare<string[], ItemRow>(
      `SELECT * FROM items WHERE state IN (${placeholders(states.length)}) ORDER BY created_at, id`,
    )
    .all(...states)
    .map(toItem)
}

export function ledgerOwners(ctx: SqliteStoreContext, keys: string[]): Map<string, LedgerOwner> {
  const owners = new Map<string, LedgerOwner>()
  const lookup = ctx.db().prepare<[string], OwnerRow>(ownerSql)
  // One read transaction: every answer comes from the same snapshot.
  ctx.db().transaction(() => {
    for (const key of new Set(keys)) {
      const row = lookup.get(key)
      if (row) owners.set(key, { itemId: row.item_id, state: row.state, recordId: row.record_id })
    }
  })()
  return owners
}

/** SHA-256 of files the bridge uploaded, by S-Drive file id: from their items, or the ledger once pruned. */
export function uploadDigests(ctx: SqliteStoreContext, fileIds: string[]): Map<string, string> {
  const digests = new Map<string, string>()
  if (fileIds.length === 0) return digests
  const rows = ctx
    .db()
    .prepare<[string, string], { id: string; sha256: string }>(
      `SELECT sdrive_file_id AS id, sha256 FROM items
       WHERE sdrive_file_id IN (SELECT value FROM json_each(?)) AND sha256 IS NOT NULL AND state <> 'skipped'
       UNION ALL
       SELECT sdrive_file_id AS id, sha256 FROM ledger
       WHERE sdrive_file_id IN (SELECT value FROM json_each(?)) AND sha256 IS NOT NULL`,
    )
    .all(JSON.stringify(fileIds), JSON.stringify(fileIds))
  for (const row of rows) digests.set(row.id, row.sha256)
  return digests
}

export function listItems(ctx: SqliteStoreContext, runId: string): ItemRecord[] {
  return ctx
    .db()
    .prepare<[string], ItemRow>('SELECT * FROM items WHERE run_id = ? ORDER BY id')
    .all(runId)
    .map(toItem)
}

export function activeItemCount(ctx: SqliteStoreContext): number {
  return ctx
    .db()
    .prepare<string[], { n: number }>(
      `SELECT count(*) AS n FROM items WHERE state IN (${placeholders(activeItemStates.length)})`,
    )
    .get(...activeItemStates)!.n
}

export async function releaseLedger(ctx: SqliteStoreContext, itemId: string): Promise<void> {
  // Keyed by item id, so a key already re-claimed by a newer item is left alone.
  await ctx.write((conn) => conn.prepare('DELETE FROM ledger WHERE item_id = ?').run(itemId))
}
