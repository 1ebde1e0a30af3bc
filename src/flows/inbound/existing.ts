/**
 * The existing-file stage: for matched files, what the flow's `existing`
 * policy asks when a file of the same name is already on the record (skip
 * it, replace it, or upload a duplicate). One S-Drive query per file object.
 */
import type { InboundFlow } from '../../config/schema.js'
import { sdriveFileName } from '../../domain/file-names.js'
import type { ItemRecord, ItemTarget } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'
import type { RunContext } from './context.js'

export async function applyExistingPolicy(
  ctx: RunContext,
  flow: InboundFlow,
  items: ItemRecord[],
): Promise<void> {
  const groups = new Map<string, ItemRecord[]>()
  for (const item of items) {
    if (!item.target) continue
    const key = `${item.target.fileObject}\u0000${item.target.parentField}`
    groups.set(key, [...(groups.get(key) ?? []), item])
  }
  for (const group of groups.values()) await applyToGroup(ctx, flow, group)
}

/** Files bound for the same file object and parent field. */
async function applyToGroup(ctx: RunContext, flow: InboundFlow, group: ItemRecord[]): Promise<void> {
  const { fileObject, parentField } = (group[0] as ItemRecord).target as ItemTarget
  const existing = await ctx.sdrive.findFiles(
    fileObject,
    parentField,
    [...new Set(group.map((i) => (i.target as ItemTarget).recordId))],
    [...new Set(group.map((i) => sdriveFileName(i.name)))],
    { signal: ctx.control.shutdown },
  )
  for (const item of group) {
    const target = item.target as ItemTarget
    const same = existing.filter(
      (f) =>
        f.parentId.slice(0, 15) === target.recordId.slice(0, 15) && f.fileName === sdriveFileName(item.name),
    )
    if (same.length === 0 || flow.existing === 'duplicate') continue
    if (flow.existing === 'skip') {
      // Already in S-Drive: nothing to upload, the source is tidied like a success.
      await moveItem(ctx.store, item, 'finalizing', {
        sdriveFileId: (same[0] as { id: string }).id,
        target: { ...target, alreadyInSDrive: true },
      })
    } else {
      await ctx.store.updateItem(item.id, { target: { ...target, replaceIds: same.map((f) => f.id) } })
    }
  }
}
