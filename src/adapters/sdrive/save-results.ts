/** Reading Salesforce save results of S-Drive record updates and deletes. */
import type { SaveResult } from '../../ports/salesforce.js'

/** Delete errors meaning the record is already gone, which is what cancel and remove want anyway. */
const goneCodes = new Set([
  'ENTITY_IS_DELETED',
  'INVALID_CROSS_REFERENCE_KEY',
  'NOT_FOUND',
  'INVALID_ID_FIELD',
])

function isGone(result: SaveResult): boolean {
  return (
    result.errors.length > 0 &&
    result.errors.every((e) => e.statusCode !== undefined && goneCodes.has(e.statusCode))
  )
}

export function failedSaves(results: SaveResult[], ignoreGone: boolean): SaveResult[] {
  return results.filter((r) => !r.success && !(ignoreGone && isGone(r)))
}

/** The `details` of an SDRIVE_ERROR about failed saves. */
export function failureDetails(failed: SaveResult[]): { failures: Pick<SaveResult, 'id' | 'errors'>[] } {
  return { failures: failed.map((r) => ({ id: r.id, errors: r.errors })) }
}
