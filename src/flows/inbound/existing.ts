/**
 * The existing-file stage: for matched files, what the flow's `existing`
 * policy asks when a file of the same name is already on the record (skip
 * it, replace it, upload a duplicate, or add a new version of it). One
 * S-Drive query per file object.
 */
import type { InboundFlow } from '../../config/schema.js'
import { sdriveFileName } from '../../domain/file-names.js'
import type { SDriveFile } from '../../ports/sdrive.js'
import type { ItemRecord, ItemTarget } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'
import { withoutPgpSuffix } from '../../transfer/pgp/decrypt.js'
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
  for (const group of groups.values()) {
    if (flow.existing === 'version') await versionGroup(ctx, flow, group)
    else await applyToGroup(ctx, flow, group)
  }
}

/** The name the file has in S-Drive: a PGP flow's files arrive decrypted, without their .pgp suffix. */
const nameInSDrive = (flow: InboundFlow, item: ItemRecord) =>
  sdriveFileName(flow.pgp ? withoutPgpSuffix(item.name) : item.name)

const sameFileAs = (flow: InboundFlow, item: ItemRecord) => (f: SDriveFile) =>
  f.parentId.slice(0, 15) === (item.target as ItemTarget).recordId.slice(0, 15) &&
  f.fileName === nameInSDrive(flow, item)

/**
 * The version policy: a file whose name is on the record becomes a new version of the current
 * one, which is marked not latest once the new one is confirmed. When the bridge uploaded the
 * current version itself it knows its SHA-256, so identical bytes can be told apart after upload.
 */
async function versionGroup(ctx: RunContext, flow: InboundFlow, group: ItemRecord[]): Promise<void> {
  const { fileObject, parentField } = (group[0] as ItemRecord).target as ItemTarget
  const latest = await ctx.sdrive.findLatestFiles(
    fileObject,
    parentField,
    [...new Set(group.map((i) => (i.target as ItemTarget).recordId))],
    [...new Set(group.map((i) => nameInSDrive(flow, i)))],
    { signal: ctx.control.shutdown },
  )
  const digests = await ctx.store.uploadDigests(latest.map((f) => f.id))
  await Promise.all(
    group.map((item) => {
      const current = latest.filter(sameFileAs(flow, item))
      if (current.length === 0) return null
      const ids = current.map((f) => f.id)
      const sha256 = current.length === 1 ? digests.get(ids[0] as string) : undefined
      const target = item.target as ItemTarget
      return ctx.store.updateItem(item.id, {
        target: {
          ...target,
          supersedeIds: ids,
          versionOf: ids,
          ...(sha256 ? { currentSha256: sha256 } : {}),
        },
      })
    }),
  )
}

/** Files bound for the same file object and parent field. */
async function applyToGroup(ctx: RunContext, flow: InboundFlow, group: ItemRecord[]): Promise<void> {
  const { fileObject, parentField } = (group[0] as ItemRecord).target as ItemTarget
  const existing = await ctx.sdrive.findFiles(
    fileObject,
    parentField,
    [...new Set(group.map((i) => (i.target as ItemTarget).recordId))],
    [...new Set(group.map((i) => nameInSDrive(flow, i)))],
    { signal: ctx.control.shutdown },
  )
  for (const item of group) {
    const target = item.target as ItemTarget
    const same = existing.filter(sameFileAs(flow, item))
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
