/** The values the flow's templates (destination, manifest, done-marker, write-back) can name. */
import type { OutboundFlow } from '../../config/schema.js'
import { exportCorrelationId } from '../../domain/correlation.js'
import type { SDriveFile } from '../../ports/sdrive.js'
import type { RunRecord } from '../../ports/store.js'
import { requestOf } from './request.js'
import type { Batch } from './windows.js'

export function templateValues(
  flow: OutboundFlow,
  job: RunRecord,
  file: SDriveFile | null,
  batch: Batch | null,
) {
  const metadata = requestOf(job).metadata ?? {}
  return {
    flow: flow.name,
    'job.id': job.id,
    window: batch?.label ?? '',
    ...(file
      ? {
          'file.name': file.fileName,
          'file.id': file.id,
          'file.size': file.sizeBytes ?? 0,
          'file.contentType': file.contentType ?? '',
          correlationId: exportCorrelationId(job.id, file.id),
        }
      : {}),
    ...Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`metadata.${k}`, v])),
  }
}
