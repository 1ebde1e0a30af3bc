/**
 * The folder stage: a flow with a target folder template has each distinct
 * folder looked up (or created) once per round before anything is
 * uploaded, and its uploaded files moved into it (one call per folder)
 * before their source is disposed of.
 */
import { isTransient, toBridgeError } from '../../domain/errors.js'
import { sdriveFileName } from '../../domain/file-names.js'
import { renderTemplate } from '../../domain/templates.js'
import type { ItemRecord, ItemTarget } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'
import { isActiveItem } from '../../runs/rounds.js'
import { type RunContext, relativeDirOf, type SourceFolderFlow } from './context.js'
import { sdriveTargetOf } from './upload.js'

/** Folder path of an item: the target's template rendered, each name made S-Drive-safe. */
export function folderPathOf(flow: SourceFolderFlow, item: ItemRecord, now: number): string[] {
  const target = item.target as ItemTarget
  const rendered = renderTemplate(target.folder as string, {
    flow: flow.name,
    'record.id': target.recordId,
    date: new Date(now).toISOString().slice(0, 10),
    'file.dir': relativeDirOf(flow, item.path),
  })
  return rendered
    .split('/')
    .filter((s) => s.trim() !== '')
    .map((s) => sdriveFileName(s))
}

/** A file waiting to be put into its folder keeps its source until that is done. */
export function waitsForFolder(item: ItemRecord): boolean {
  return !!item.target?.folderId && !item.target.folderApplied && !item.target.alreadyInSDrive
}

/** Looks up (or creates) each distinct target folder once per round, before anything is uploaded. */
export async function resolveFolders(
  ctx: RunContext,
  flow: SourceFolderFlow,
  items: ItemRecord[],
): Promise<void> {
  const needing = items.filter(
    (i) => isActiveItem(i) && i.target?.folder && !i.target.folderId && !i.target.alreadyInSDrive,
  )
  const groups = new Map<string, { path: string[]; items: ItemRecord[] }>()
  for (const item of needing) {
    const path = folderPathOf(flow, item, ctx.clock.now())
    if (path.length === 0) continue
    const key = JSON.stringify([sdriveTargetOf(item.target as ItemTarget), path])
    const group = groups.get(key) ?? { path, items: [] }
    group.items.push(item)
    groups.set(key, group)
  }
  for (const { path, items: group } of groups.values()) await resolveFolder(ctx, flow, path, group)
}

async function resolveFolder(
  ctx: RunContext,
  flow: SourceFolderFlow,
  path: string[],
  group: ItemRecord[],
): Promise<void> {
  const target = (group[0] as ItemRecord).target as ItemTarget
  try {
    const folderId = await ctx.sdrive.ensureFolder(sdriveTargetOf(target), path, {
      signal: ctx.control.shutdown,
    })
    for (const item of group) {
      await ctx.store.updateItem(item.id, { target: { ...(item.target as ItemTarget), folderId } })
    }
  } catch (error) {
    const e = toBridgeError(error, 'SDRIVE_ERROR')
    ctx.logger.warn(
      { flow: flow.name, folder: path.join('/'), code: e.code },
      'could not resolve S-Drive folder',
    )
    for (const item of group) {
      if (!isTransient(e) && item.state === 'pending') {
        ctx.events.emit({ type: 'fault', flow: flow.name, code: e.code, runId: item.runId, itemId: item.id })
        await moveItem(ctx.store, item, 'failed', {
          error: { code: e.code, message: `S-Drive folder ${path.join('/')}: ${e.message}` },
        })
        continue
      }
      await ctx.store.updateItem(item.id, {
        error: { code: e.code, message: e.message },
        nextAttemptAt: new Date(ctx.clock.now() + flow.retry.baseDelayMs).toISOString(),
      })
    }
  }
}

/** Puts uploaded files into their folders: one call per folder, before the source is disposed of. */
export async function applyFolders(ctx: RunContext, items: ItemRecord[]): Promise<void> {
  const groups = new Map<string, ItemRecord[]>()
  for (const item of items) {
    const t = item.target
    if (
      item.state !== 'finalizing' ||
      !t?.folderId ||
      t.folderApplied ||
      t.alreadyInSDrive ||
      !item.sdriveFileId
    )
      continue
    const key = `${t.fileObject}\u0000${t.folderId}`
    groups.set(key, [...(groups.get(key) ?? []), item])
  }
  for (const group of groups.values()) await applyFolder(ctx, group)
}

async function applyFolder(ctx: RunContext, group: ItemRecord[]): Promise<void> {
  const t = (group[0] as ItemRecord).target as ItemTarget
  try {
    await ctx.sdrive.moveToFolder(
      t.fileObject,
      group.map((i) => i.sdriveFileId as string),
      t.folderId as string,
      { signal: ctx.control.shutdown },
    )
  } catch (error) {
    const e = toBridgeError(error, 'SDRIVE_ERROR')
    if (isTransient(e)) {
      ctx.logger.warn(
        { folder: t.folderId, code: e.code, err: e.message },
        'could not move files into their folder; will retry',
      )
      return
    }
    // The documents are in S-Drive on the right record; only the folder refused them. Say so and go on.
    ctx.logger.error(
      { folder: t.folderId, code: e.code, err: e.message },
      'files stay at the record root: folder refused them',
    )
  }
  for (const item of group) {
    await ctx.store.updateItem(item.id, { target: { ...(item.target as ItemTarget), folderApplied: true } })
  }
}
