/** SOQL reads of S-Drive file records. */
import type { SDriveCallOptions, SDriveFile } from '../../ports/sdrive.js'
import type { SDriveContext } from './context.js'
import { fileQueries, filesByIdQueries, rootFolderQueries, toSDriveFile } from './queries.js'

/** Finished (`wip` false) or WIP file records under these parents, optionally only these names. */
export async function findRecords(
  ctx: SDriveContext,
  fileObject: string,
  parentField: string,
  parentIds: string[],
  wip: boolean,
  fileNames: string[] | undefined,
  options?: SDriveCallOptions & { latestOnly?: boolean },
): Promise<SDriveFile[]> {
  const out: SDriveFile[] = []
  for (const soql of fileQueries(fileObject, parentField, parentIds, wip, fileNames, options?.latestOnly)) {
    const records = await ctx.sf.query(soql, options)
    for (const record of records) out.push(toSDriveFile(record, fileObject, parentField))
  }
  return out
}

export async function filesByIds(
  ctx: SDriveContext,
  fileObject: string,
  parentField: string,
  ids: string[],
  options?: SDriveCallOptions,
): Promise<SDriveFile[]> {
  if (ids.length === 0) return []
  const rows = await Promise.all(
    filesByIdQueries(fileObject, parentField, ids).map((q) => ctx.sf.query(q, options)),
  )
  return rows.flat().map((r) => toSDriveFile(r, fileObject, parentField))
}

export async function rootFolders(
  ctx: SDriveContext,
  fileObject: string,
  parentField: string,
  parentIds: string[],
  name: string,
  options?: SDriveCallOptions,
): Promise<SDriveFile[]> {
  if (parentIds.length === 0) return []
  const rows = await Promise.all(
    rootFolderQueries(fileObject, parentField, parentIds, name).map((q) => ctx.sf.query(q, options)),
  )
  return rows
    .flat()
    .map((r) => toSDriveFile(r, fileObject, parentField))
    .filter((f) => f.folderId === null)
}
