/** Item state changes, checked against the item state machine before they are stored. */
import { assertTransition } from '../domain/item-state.js'
import type { ItemPatch, ItemRecord, ItemState, Store } from '../ports/store.js'

export async function moveItem(
  store: Store,
  item: ItemRecord,
  to: ItemState,
  patch: ItemPatch = {},
): Promise<ItemRecord> {
  assertTransition(item.state, to)
  return store.updateItem(item.id, { ...patch, state: to })
}

/** Like moveItem(), but an item already in `to` (a file not started stays pending) is only patched. */
export async function placeItem(
  store: Store,
  item: ItemRecord,
  to: ItemState,
  patch: ItemPatch = {},
): Promise<ItemRecord> {
  return item.state === to ? store.updateItem(item.id, patch) : moveItem(store, item, to, patch)
}
