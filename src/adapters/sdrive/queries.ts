/** SOQL for S-Drive file-object records, built only through src/domain/soql.ts. */
import { chunkInList, inClause, QUERY_URL_BUDGET, selectWhereIn, urlLength } from '../../domain/soql.js'
import type { SDriveFile } from '../../ports/sdrive.js'

/** Packaged file objects carry the cg__ namespace on their fields; customer-made ones do not. */
export function fieldPrefix(fileObject: string): string {
  return fileObject.toLowerCase().startsWith('cg__') ? 'cg__' : ''
}

export function fileFields(fileObject: string, parentField: string) {
  const p = fieldPrefix(fileObject)
  return {
    fileName: `${p}File_Name__c`,
    size: `${p}File_Size_in_Bytes__c`,
    key: `${p}Key__c`,
    folder: `${p}Parent_Folder_Id__c`,
    contentType: `${p}Content_Type__c`,
    wip: `${p}WIP__c`,
    deleted: `${p}Is_Deleted__c`,
    latest: `${p}Is_Latest_Version__c`,
    parent: parentField,
  }
}

export function fileQueries(
  fileObject: string,
  parentField: string,
  parentIds: readonly string[],
  wip: boolean,
  fileNames?: readonly string[],
  latestOnly = false,
): string[] {
  const f = fileFields(fileObject, parentField)
  const fields = ['Id', f.parent, f.fileName, f.size, f.key, f.folder, f.contentType]
  // Folders are rows of the same object; they are never "files" here. The version flag is named
  // only when asked for: an org whose file object lacks it can still run every other policy.
  const state = [
    `${f.wip} = ${wip ? 'true' : 'false'} AND ${f.deleted} = false AND ${f.contentType} != 'Folder'`,
    ...(latestOnly ? [`${f.latest} = true`] : []),
  ].join(' AND ')
  const parents = [...new Set(parentIds)]
  if (parents.length === 0) return []
  if (fileNames === undefined) {
    return selectWhereIn({
      fields,
      object: fileObject,
      field: f.parent,
      values: parents,
      extraWhere: state,
      maxChars: QUERY_URL_BUDGET,
      measure: urlLength,
    })
  }
  const names = [...new Set(fileNames)]
  if (names.length === 0) return []
  // Both lists can be long: give each half the budget and query every pair of chunks.
  const half = Math.floor(QUERY_URL_BUDGET / 2)
  return chunkInList(names, half - 200, urlLength).flatMap((nameChunk) =>
    selectWhereIn({
      fields,
      object: fileObject,
      field: f.parent,
      values: parents,
      extraWhere: `${state} AND ${inClause(f.fileName, nameChunk)}`,
      maxChars: QUERY_URL_BUDGET,
      measure: urlLength,
    }),
  )
}

function numberOrNull(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value)
  return null
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null
}

export function toSDriveFile(
  record: Record<string, unknown>,
  fileObject: string,
  parentField: string,
): SDriveFile {
  const f = fileFields(fileObject, parentField)
  return {
    id: String(record.Id),
    parentId: String(record[f.parent] ?? ''),
    fileName: String(record[f.fileName] ?? ''),
    sizeBytes: numberOrNull(record[f.size]),
    key: stringOrNull(record[f.key]),
    folderId: stringOrNull(record[f.folder]),
    contentType: stringOrNull(record[f.contentType]),
  }
}

/** All folder rows with these names under one parent (one query; the path is walked in memory). */
export function folderQuery(
  fileObject: string,
  parentField: string,
  parentId: string,
  names: readonly string[],
): string[] {
  const f = fileFields(fileObject, parentField)
  return selectWhereIn({
    fields: ['Id', f.fileName, f.folder],
    object: fileObject,
    field: f.fileName,
    values: [...new Set(names)],
    extraWhere: `${inClause(f.parent, [parentId])} AND ${f.contentType} = 'Folder' AND ${f.deleted} = false`,
    maxChars: QUERY_URL_BUDGET,
    measure: urlLength,
  })
}

/** Finished, non-folder files by id. */
export function filesByIdQueries(fileObject: string, parentField: string, ids: readonly string[]): string[] {
  const f = fileFields(fileObject, parentField)
  return selectWhereIn({
    fields: ['Id', f.parent, f.fileName, f.size, f.key, f.folder, f.contentType],
    object: fileObject,
    field: 'Id',
    values: [...new Set(ids)],
    extraWhere: `${f.wip} = false AND ${f.deleted} = false AND ${f.contentType} != 'Folder'`,
    maxChars: QUERY_URL_BUDGET,
    measure: urlLength,
  })
}

/** Folder rows with one name under many parents. */
export function rootFolderQueries(
  fileObject: string,
  parentField: string,
  parentIds: readonly string[],
  name: string,
): string[] {
  const f = fileFields(fileObject, parentField)
  return selectWhereIn({
    fields: ['Id', f.parent, f.fileName, f.size, f.key, f.folder, f.contentType],
    object: fileObject,
    field: f.parent,
    values: [...new Set(parentIds)],
    extraWhere: `${inClause(f.fileName, [name])} AND ${f.contentType} = 'Folder' AND ${f.deleted} = false`,
    maxChars: QUERY_URL_BUDGET,
    measure: urlLength,
  })
}
