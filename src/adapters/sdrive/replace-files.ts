/** What the replace policy does to earlier files: mark them superseded, or remove them. */
import { BridgeError } from '../../domain/errors.js'
import { soqlIdentifier } from '../../domain/soql.js'
import type { SaveResult } from '../../ports/salesforce.js'
import type { SDriveCallOptions } from '../../ports/sdrive.js'
import type { SDriveContext } from './context.js'
import { fieldPrefix } from './queries.js'
import { failedSaves, failureDetails } from './save-results.js'

export async function markSuperseded(
  ctx: SDriveContext,
  fileObject: string,
  ids: string[],
  options?: SDriveCallOptions,
): Promise<void> {
  if (ids.length === 0) return
  soqlIdentifier(fileObject)
  const flag = `${fieldPrefix(fileObject)}Is_Latest_Version__c`
  const failed = failedSaves(
    await ctx.sf.updateRecords(
      fileObject,
      ids.map((Id) => ({ Id, [flag]: false })),
      options,
    ),
    false,
  )
  if (failed.length > 0) {
    throw new BridgeError('SDRIVE_ERROR', `Could not mark ${failed.length} S-Drive file(s) as superseded`, {
      details: failureDetails(failed),
    })
  }
}

export async function removeFiles(
  ctx: SDriveContext,
  fileObject: string,
  ids: string[],
  options?: SDriveCallOptions,
): Promise<void> {
  if (ids.length === 0) return
  soqlIdentifier(fileObject)
  let failed: SaveResult[]
  if (ctx.config.replaceMode === 'softDelete') {
    const flag = `${fieldPrefix(fileObject)}Is_Deleted__c`
    const results = await ctx.sf.updateRecords(
      fileObject,
      ids.map((Id) => ({ Id, [flag]: true })),
      options,
    )
    failed = failedSaves(results, false)
  } else {
    failed = failedSaves(await ctx.sf.deleteRecords(ids, options), true)
  }
  if (failed.length > 0) {
    throw new BridgeError('SDRIVE_ERROR', `Could not remove ${failed.length} S-Drive file(s)`, {
      details: failureDetails(failed),
    })
  }
}
