/** Items and the ledger in the PostgreSQL store: add (claiming ledger keys), update, find, count. */
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
  type Cast,
  type ItemRow,
  type OwnerRow,
  ownerOf,
  type PgStoreContext,
  type Query,
  single,
  toItem,
  toJson,
  transaction,
  updateRow,
} from './postgres-context.js'

const itemColumns: Record<keyof ItemPatch, { column: string; cast: Cast }> = {
  state: { column: 'state', cast: null },
  attempts: { column: 'attempts', cast: null },
  nextAttemptAt: { column: 'next_attempt_at', cast: 'timestamptz' },
  target: { column: 'target', cast: 'jsonb' },
  wipFileId: { column: 'wip_file_id', cast: null },
  sdriveFileId: { column: 'sdrive_file_id', cast: null },
  sha256: { column: 'sha256', cast: null },
  bytesTransferred: { column: 'bytes_transferred', cast: null },
  bytesMoved: { column: 'bytes_moved', cast: null },
  resumes: { column: 'resumes', cast: null },
  finalPath: { column: 'final_path', cast: null },
  error: { column: 'error', cast: 'jsonb' },
  detail: { column: 'detail', cast: 'jsonb' },
}

const activeItemStates: readonly ItemState[] = ['pending', 'transferring', 'finalizing']

/** A claim whose owner vanished (released) before we could read it is retried this many times. */
const maxClaimRounds = 3

/**
 * Who owns a ledger key: the item while it exists, else what the ledger kept
 * of it when retention pruned it (its final state and record).
 */
function ownerSql(ctx: PgStoreContext): string {
  return `SELECT l.ledger_key, l.item_id, coalesce(i.state, l.settled_state) AS state,
      coalesce(i.target->>'recordId', l.record_id) AS record_id
    FROM ${ctx.table.ledger} l LEFT JOIN ${ctx.table.items} i ON i.id = l.item_id
    WHERE l.ledger_key = ANY($1::text[]) AND (i.id IS NOT NULL OR l.settled_state IS NOT NULL)`
}

interface PlannedItem {
  item: NewItem
  id: string
  createdAt: string
}

/** Claims each candidate's ledger key: the keys won, and the owners of those another item holds. */
async function claimLedgerKeys(
  ctx: PgStoreContext,
  q: Query,
  candidates: Map<string, PlannedItem>,
): Promise<{ won: Set<string>; owners: Map<string, LedgerOwner> }> {
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
      `INSERT INTO ${ctx.table.ledger} (ledger_key, item_id, claimed_at)
       SELECT u.ledger_key, u.item_id, u.claimed_at
       FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS u(ledger_key, item_id, claimed_at, n)
       ORDER BY u.n
       ON CONFLICT (ledger_key) DO NOTHING RETURNING ledger_key`,
      [pending, claims.map((c) => c.id), claims.map((c) => c.createdAt)],
    )
    for (const row of claimed) won.add(row.ledger_key)
    const lost = pending.filter((key) => !won.has(key))
    if (lost.length === 0) break
    const taken = await q<OwnerRow>(ownerSql(ctx), [lost])
    for (const row of taken) owners.set(row.ledger_key, ownerOf(row))
    // A key taken at our INSERT but released before our SELECT is free again: claim it next round.
    pending = lost.filter((key) => !owners.has(key))
  }
  return { won, owners }
}

async function insertItems(
  ctx: PgStoreContext,
  q: Query,
  run: { id: string; flow: string },
  inserts: PlannedItem[],
): Promise<ItemRow[]> {
  if (inserts.length === 0) return []
  return q<ItemRow>(
    `INSERT INTO ${ctx.table.items} (id, run_id, flow, endpoint, path, name, size, modified_at, ledger_key,
       state, target, error, created_at, updated_at)
     SELECT u.id, $1, $2, u.endpoint, u.path, u.name, u.size, u.modified_at, u.ledger_key,
       u.state, u.target::jsonb, u.error::jsonb, u.created_at, u.created_at
     FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[],
       $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[])
       AS u(id, endpoint, path, name, size, modified_at, ledger_key, state, target, error, created_at)
     RETURNING *`,
    [
      run.id,
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
}

export async function addItems(
  ctx: PgStoreContext,
  runId: string,
  items: NewItem[],
): Promise<AddItemsResult> {
  return transaction(ctx, async (q) => {
    const run = (await q<{ flow: string }>(`SELECT flow FROM ${ctx.table.runs} WHERE id = $1`, [runId]))[0]
    if (!run) throw new BridgeError('NOT_FOUND', `run ${runId} not found`)
    if (items.length === 0) return { added: [], duplicates: [] }

    const planned = items.map((item): PlannedItem => {
      const { id, ms } = ctx.nextId('itm_')
      return { item, id, createdAt: new Date(ms).toISOString() }
    })
    // Within one batch the first occurrence of a key is the one that may claim it.
    const candidates = new Map<string, PlannedItem>()
    for (const p of planned) if (!candidates.has(p.item.ledgerKey)) candidates.set(p.item.ledgerKey, p)

    const { won, owners } = await claimLedgerKeys(ctx, q, candidates)
    const inserts = [...candidates.values()].filter((p) => won.has(p.item.ledgerKey))
    const rows = await insertItems(ctx, q, { id: runId, flow: run.flow }, inserts)
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

export async function ledgerOwners(ctx: PgStoreContext, keys: string[]): Promise<Map<string, LedgerOwner>> {
  const owners = new Map<string, LedgerOwner>()
  if (keys.length === 0) return owners
  // One statement: every answer comes from the same snapshot.
  const rows = await ctx.query<OwnerRow>(ownerSql(ctx), [[...new Set(keys)]])
  for (const row of rows) owners.set(row.ledger_key, ownerOf(row))
  return owners
}

export async function releaseLedger(ctx: PgStoreContext, itemId: string): Promise<void> {
  // Keyed by item id, so a key already re-claimed by a newer item is left alone.
  await ctx.query(`DELETE FROM ${ctx.table.ledger} WHERE item_id = $1`, [itemId])
}

/** SHA-256 of files the bridge uploaded, by S-Drive file id: from their items, or the ledger once pruned. */
export async function uploadDigests(ctx: PgStoreContext, fileIds: string[]): Promise<Map<string, string>> {
  const digests = new Map<string, string>()
  if (fileIds.length === 0) return digests
  const rows = await ctx.query<{ id: string; sha256: string }>(
    `SELECT sdrive_file_id AS id, sha256 FROM ${ctx.table.items}
     WHERE sdrive_file_id = ANY($1::text[]) AND sha256 IS NOT NULL AND state <> 'skipped'
     UNION ALL
     SELECT sdrive_file_id AS id, sha256 FROM ${ctx.table.ledger}
     WHERE sdrive_file_id = ANY($1::text[]) AND sha256 IS NOT NULL`,
    [[...new Set(fileIds)]],
  )
  for (const row of rows) digests.set(row.id, row.sha256)
  return digests
}

export async function getItem(ctx: PgStoreContext, id: string): Promise<ItemRecord | null> {
  const row = (await ctx.query<ItemRow>(`SELECT * FROM ${ctx.table.items} WHERE id = $1`, [id]))[0]
  return row ? toItem(row) : null
}

export async function listItems(ctx: PgStoreContext, runId: string): Promise<ItemRecord[]> {
  return (
    await ctx.query<ItemRow>(`SELECT * FROM ${ctx.table.items} WHERE run_id = $1 ORDER BY id`, [runId])
  ).map(toItem)
}

export async function updateItem(ctx: PgStoreContext, id: string, patch: ItemPatch): Promise<ItemRecord> {
  return toItem(await updateRow<ItemRow, ItemPatch>(ctx, ctx.table.items, itemColumns, 'item', id, patch))
}

export async function findItems(ctx: PgStoreContext, states: ItemState[]): Promise<ItemRecord[]> {
  if (states.length === 0) return []
  const rows = await ctx.query<ItemRow>(
    `SELECT * FROM ${ctx.table.items} WHERE state = ANY($1::text[]) ORDER BY created_at, id`,
    [states],
  )
  return rows.map(toItem)
}

export async function activeItemCount(ctx: PgStoreContext): Promise<number> {
  const rows = await ctx.query<{ n: number }>(
    `SELECT count(*)::integer AS n FROM ${ctx.table.items} WHERE state = ANY($1::text[])`,
    [activeItemStates],
  )
  return single(rows, 'the active item count').n
}
