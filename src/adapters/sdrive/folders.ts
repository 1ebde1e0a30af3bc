/** S-Drive folders: found or created along a path, and files moved into one. */
import { BridgeError } from '../../domain/errors.js'
import type { SDriveCallOptions, SDriveTarget } from '../../ports/sdrive.js'
import type { SDriveContext } from './context.js'
import { fieldPrefix, fileFields, folderQuery } from './queries.js'
import { failedSaves, failureDetails } from './save-results.js'

export async function ensureFolder(
  ctx: SDriveContext,
  target: SDriveTarget,
  path: string[],
  options?: SDriveCallOptions,
): Promise<string> {
  if (path.length === 0) throw new BridgeError('VALIDATION_FAILED', 'a folder path needs at least one name')
  const f = fileFields(target.fileObject, target.parentField)
  const rows = (
    await Promise.all(
      folderQuery(target.fileObject, target.parentField, target.parentId, path).map((q) =>
        ctx.sf.query(q, options),
      ),
    )
  ).flat()
  let parentFolder: string | null = null
  for (const name of path) {
    const existing = rows.find(
      (r) => r[f.fileName] === name && ((r[f.folder] as string | null | undefined) || null) === parentFolder,
    )
    if (existing) {
      parentFolder = String(existing.Id)
      continue
    }
    const [created] = await ctx.sf.createRecords(
      target.fileObject,
      [
        {
          [target.parentField]: target.parentId,
          [f.fileName]: name,
          [f.contentType]: 'Folder',
          [f.folder]: parentFolder,
          [f.wip]: false,
        },
      ],
      options,
    )
    if (!created?.success || !created.id) {
      throw new BridgeError('SDRIVE_ERROR', `could not create S-Drive folder "${name}"`, {
        details: { errors: created?.errors ?? [] },
      })
    }
    parentFolder = created.id
  }
  return parentFolder as string
}

export async function moveToFolder(
  ctx: SDriveContext,
  fileObject: string,
  fileIds: string[],
  folderId: string,
  options?: SDriveCallOptions,
): Promise<void> {
  if (fileIds.length === 0) return
  const field = `${fieldPrefix(fileObject)}Parent_Folder_Id__c`
  const results = await ctx.sf.updateRecords(
    fileObject,
    fileIds.map((Id) => ({ Id, [field]: folderId })),
    options,
  )
  const failed = failedSaves(results, false)
  if (failed.length > 0) {
    throw new BridgeError('SDRIVE_ERROR', `Could not move ${failed.length} file(s) into the S-Drive folder`, {
      details: failureDetails(failed),
    })
  }
}
