/** SOQL reads of S-Drive file records. */
import type { SDriveCallOptions, SDriveFile } from '../../ports/sdrive.js'
import type { SDriveContext } from './context.js'
import { fileQueries, filesByIdQueries, rootFolderQueries, toSDriveFile } from './queries.js'

/** A query page holds up to 2,000 records (Sforce-Query-Options batchSize: default and maximum). */
const PAGE_RECORDS = 2000

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
  const latestOnly = options?.latestOnly
  const queries = (names?: string[]) =>
    fileQueries(fileObject, parentField, parentIds, wip, names, latestOnly)
  const byName = queries(fileNames)
  const whole =
    fileNames !== undefined && byName.length >= 3
      ? await allUnderParents(ctx, queries(undefined), byName.length, options)
      : null
  const records = whole ?? (await run(ctx, byName, options))
  const files = records.map((record) => toSDriveFile(record, fileObject, parentField))
  if (whole === null || fileNames === undefined) return files
  const names = new Set(fileNames.map((n) => n.toLowerCase()))
  return files.filter((f) => names.has(f.fileName.toLowerCase()))
}

async function run(ctx: SDriveContext, queries: string[], options?: SDriveCallOptions) {
  const out: Record<string, unknown>[] = []
  for (const soql of queries) out.push(...(await ctx.sf.query(soql, options)))
  return out
}

/**
 * Many names make many queries (an IN list of a few hundred names fits one URL): when the
 * parents hold few enough files, reading all of theirs is cheaper (a product-image batch of
 * 10,000 files on 100 new records: 1 query, not 39). It is given up after its first page when
 * it would take as many calls as the names do; that page is the only call it costs then.
 * Names then compare without case, as SOQL's IN does; callers match the exact name themselves.
 */
async function allUnderParents(
  ctx: SDriveContext,
  byParent: string[],
  nameQueries: number,
  options?: SDriveCallOptions,
): Promise<Record<string, unknown>[] | null> {
  if (byParent.length !== 1) return null
  return ctx.sf.queryAtMost(byParent[0] as string, (nameQueries - 2) * PAGE_RECORDS, options)
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
