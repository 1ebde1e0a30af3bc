/**
 * Companion files written after a job's (or a window batch's) deliveries:
 * a manifest of the files delivered and, when every file arrived, a
 * done-marker, written last so a recipient can wait for it.
 */
import { posix } from 'node:path'
import type { OutboundFlow } from '../../config/schema.js'
import { exportCorrelationId } from '../../domain/correlation.js'
import { type ManifestRow, renderManifest } from '../../domain/manifest.js'
import { recordValue, renderOutboundTemplate } from '../../domain/outbound-template.js'
import { sanitizeRemoteSegment } from '../../domain/remote-names.js'
import type { ItemRecord, RunRecord } from '../../ports/store.js'
import { writeTextFile } from '../../transfer/remote-delivery.js'
import type { OutboundDeps } from './deps.js'
import { fetchRecords } from './plan.js'
import { templateValues } from './templates.js'
import { type Batch, timeZoneOf } from './windows.js'

/** The deepest folder all the directories share ('/' when none). */
export function commonDirectory(dirs: readonly string[]): string {
  if (dirs.length === 0) return '/'
  const split = dirs.map((d) => d.split('/').filter((p) => p !== ''))
  const common: string[] = []
  for (let i = 0; ; i++) {
    const segment = split[0]?.[i]
    if (segment === undefined || !split.every((parts) => parts[i] === segment)) break
    common.push(segment)
  }
  return `/${common.join('/')}`
}

function manifestRows(
  items: ItemRecord[],
  records: Map<string, Record<string, unknown>>,
  fields: string[],
): ManifestRow[] {
  return items
    .filter((i) => i.state === 'done')
    .map((i) => ({
      recordId: i.target?.recordId ?? '',
      fileId: i.target?.fileId ?? '',
      correlationId: exportCorrelationId(i.runId, i.target?.fileId ?? ''),
      fileName: i.name,
      remotePath: i.finalPath ?? i.path,
      size: i.bytesTransferred,
      sha256: i.sha256 ?? '',
      plaintextSha256: i.target?.plaintextSha256 ?? i.sha256 ?? '',
      deliveredAt: i.updatedAt,
      fields: Object.fromEntries(
        fields.map((f) => {
          const v = recordValue(records.get((i.target?.recordId ?? '').slice(0, 15)) ?? null, f)
          return [f, v === undefined || v === null ? null : String(v)]
        }),
      ),
    }))
}

/** Manifest (delivered files) and, when everything arrived, the done-marker, written last. */
export async function writeCompanions(
  deps: OutboundDeps,
  flow: OutboundFlow,
  jobs: RunRecord[],
  items: ItemRecord[],
  batch: Batch | null,
  signal: AbortSignal,
): Promise<void> {
  if (!flow.manifest && !flow.doneMarker) return
  const delivered = items.filter((i) => i.state === 'done')
  const complete = items.every((i) => i.state === 'done' || i.state === 'skipped')
  const anchor = jobs[0] as RunRecord
  const ctx = {
    values: { ...templateValues(flow, anchor, null, batch), format: flow.manifest?.format ?? '' },
    record: null,
    now: deps.clock.now(),
    timeZone: timeZoneOf(flow),
  }
  const fileName = (template: string) =>
    sanitizeRemoteSegment(renderOutboundTemplate(template, ctx), flow.destination.replacement)
  // One manifest for the job (or window batch): in the deepest folder all delivered files share.
  const directory = commonDirectory(delivered.map((i) => posix.dirname(i.finalPath ?? i.path)))
  const remote = deps.remotes.get(flow.destination.endpoint)
  const text = {
    atomic: flow.destination.atomic,
    tempSuffix: flow.destination.tempSuffix,
    supportsRename: deps.endpoints.get(flow.destination.endpoint)?.supportsRename ?? true,
    signal,
  }
  if (flow.manifest && delivered.length > 0) {
    const recordIds = [...new Set(delivered.map((i) => i.target?.recordId ?? ''))]
    const records = await fetchRecords(deps.sf, flow, recordIds, signal)
    const name = fileName(flow.manifest.fileName)
    const body = renderManifest(
      flow.manifest.format,
      manifestRows(delivered, records, flow.manifest.recordFields),
      flow.manifest.recordFields,
      { plaintextDigest: flow.pgp !== undefined },
    )
    await writeTextFile(remote, posix.join(directory, name), body, text)
  }
  if (flow.doneMarker && complete && delivered.length > 0) {
    await writeTextFile(remote, posix.join(directory, fileName(flow.doneMarker.fileName)), '', text)
  }
}
