/**
 * Last stage of a status file: the report of its rejected rows, written
 * beside where the file ended up (its content and name are pure,
 * src/domain/status-file.ts).
 */
import { posix } from 'node:path'
import type { StatusFlow } from '../../config/schema.js'
import { toBridgeError } from '../../domain/errors.js'
import { renderErrorReport } from '../../domain/status-file.js'
import type { ItemRecord } from '../../ports/store.js'
import { writeTextFile } from '../../transfer/remote-delivery.js'
import type { StatusContext, StatusDetail } from './detail.js'

type ReportContext = Pick<StatusContext, 'remote' | 'signal'>

/** Writes the report of rejected rows (once) and returns its path; null when no row was rejected. */
export async function writeErrorReport(
  ctx: ReportContext,
  flow: StatusFlow,
  item: ItemRecord,
  detail: StatusDetail,
  supportsRename: boolean,
): Promise<string | null> {
  if (detail.rowsRejected === 0 || detail.reportPath !== null) return detail.reportPath
  const report = renderErrorReport(
    flow.format.type,
    posix.basename(item.finalPath ?? item.name),
    detail.outcomes,
  )
  const path = posix.join(reportDirectory(flow, item), report.fileName)
  try {
    await writeTextFile(ctx.remote, path, report.content, {
      atomic: true,
      tempSuffix: '.part',
      supportsRename,
      signal: ctx.signal,
    })
  } catch (error) {
    throw toBridgeError(error, 'REMOTE_IO')
  }
  return path
}

/** Beside the file where it ended up: moved, kept in place, or (deleted) in the error folder. */
function reportDirectory(flow: StatusFlow, item: ItemRecord): string {
  if (item.finalPath) return posix.dirname(item.finalPath)
  return flow.after.success === 'keep' ? posix.dirname(item.path) : flow.after.errorDirectory
}

/** Names of status-flow error reports, which the flow must never read as status files. */
export function isErrorReport(name: string): boolean {
  return /\.errors\.(csv|json)$/i.test(name)
}
