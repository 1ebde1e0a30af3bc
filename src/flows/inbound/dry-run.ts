/**
 * A run's plan without doing it: the source listed, and for each file what
 * a run would do now (upload, skip, replace, version, wait, fail, …) and why.
 * Nothing is claimed, written or moved.
 */
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { InboundFlow, StatusFlow } from '../../config/schema.js'
import { batchFolderOf } from '../../domain/batch-folder.js'
import { sdriveFileName } from '../../domain/file-names.js'
import { ledgerKey } from '../../domain/readiness.js'
import type { SDriveFile } from '../../ports/sdrive.js'
import type { ItemTarget, RunNote } from '../../ports/store.js'
import { correlateResubmissions } from '../review/resubmit.js'
import { isAtomic } from './batch-gate.js'
import { type IndexedFile, notInIndexOf, type PlannedBatch, planIndexedBatches } from './batch-plan.js'
import { withoutOwnReports } from './claim.js'
import type { SourceFolderFlow, SourceFolderServices } from './context.js'
import { type DiscoveredFile, discoverFiles } from './discover.js'
import { type MatchResult, matchFiles } from './record-matcher.js'

export type PlannedAction =
  | 'upload'
  | 'skip'
  | 'replace'
  | 'duplicate'
  | 'fail'
  | 'wait'
  | 'already-processed'
  | 'resubmission'
  | 'apply'
  | 'version'
  | 'unchanged'
  /** An index row whose file is not in its batch folder (FILE_MISSING). */
  | 'missing'

export interface PlannedFile {
  path: string
  size: number
  action: PlannedAction
  target: { object: string; recordId: string; fileObject: string } | null
  reason: string | null
  code: string | null
}

/** A batch folder of an atomic flow (`batch: {atomic: true}`): its files go together or not at all. */
export interface PlannedAtomicBatch {
  folder: string
  /** Files a run would take from it now. */
  files: number
  /** Of these, planned to fail: then the whole folder would be undone and go to the error folder. */
  failing: number
  outcome: 'upload' | 'abort'
}

export interface DryRunPlan {
  flow: string
  files: PlannedFile[]
  /** Atomic flows only: the plan per batch folder. */
  atomicBatches?: PlannedAtomicBatch[]
  /** Batch folders with an index (or waiting for one): flows with an index setting. */
  batches: PlannedBatch[]
}

type Services = Pick<SourceFolderServices, 'store' | 'remotes' | 'sf' | 'sdrive' | 'clock' | 'flowSchema'>

export async function dryRun(
  services: Services,
  flow: SourceFolderFlow,
  signal?: AbortSignal,
): Promise<DryRunPlan> {
  if (flow.kind === 'inbound') await services.flowSchema?.assertConfigured(flow, signal)
  const remote = services.remotes.get(flow.source.endpoint)
  const discovered = await discoverFiles({
    remote,
    flow,
    clock: services.clock,
    ...(signal ? { signal } : {}),
  })
  const own = withoutOwnReports(flow, discovered)
  const { ready, notes, batches } =
    flow.kind === 'inbound' && flow.index
      ? await planIndexedBatches(remote, flow, own, signal)
      : { ready: own.ready, notes: own.notes, batches: [] }
  const files: PlannedFile[] = notes.map(notePlan)
  const fresh = await withoutProcessed(services, flow, ready, files)
  if (flow.kind === 'status') files.push(...fresh.map((f) => statusPlan(flow, f)))
  else files.push(...(await inboundPlan(services, flow, fresh, batches, signal)))
  files.sort((a, b) => a.path.localeCompare(b.path))
  return isAtomic(flow)
    ? { flow: flow.name, files, batches, atomicBatches: plannedAtomicBatches(files) }
    : { flow: flow.name, files, batches }
}

/** A file seen but not taken: waits, or (a name that cannot be read back, a broken index, a missing file) fails. */
function notePlan(n: RunNote): PlannedFile {
  const failing: readonly string[] = ['UNREADABLE_FILE_NAME', 'INDEX_INVALID']
  return {
    path: n.path,
    size: 0,
    action: n.reason === 'FILE_MISSING' ? 'missing' : failing.includes(n.reason) ? 'fail' : 'wait',
    target: null,
    reason: n.message,
    code: n.reason,
  }
}

/** Files not taken now (waiting, already processed) are in no batch of this run. */
function plannedAtomicBatches(files: readonly PlannedFile[]): PlannedAtomicBatch[] {
  const batches = new Map<string, PlannedAtomicBatch>()
  for (const file of files) {
    if (file.action === 'wait' || file.action === 'already-processed' || file.action === 'missing') continue
    const folder = batchFolderOf(file.path)
    const batch = batches.get(folder) ?? { folder, files: 0, failing: 0, outcome: 'upload' }
    batch.files += 1
    if (file.action === 'fail') batch.failing += 1
    batch.outcome = batch.failing > 0 ? 'abort' : 'upload'
    batches.set(folder, batch)
  }
  return [...batches.values()].sort((a, b) => a.folder.localeCompare(b.folder))
}

/** Files whose ledger key another item holds are planned as already processed; returns the others. */
async function withoutProcessed(
  services: Services,
  flow: SourceFolderFlow,
  ready: DiscoveredFile[],
  files: PlannedFile[],
): Promise<DiscoveredFile[]> {
  const owners = await services.store.ledgerOwners(ready.map((f) => ledgerKey(flow.source.endpoint, f)))
  return ready.filter((f) => {
    const owner = owners.get(ledgerKey(flow.source.endpoint, f))
    if (!owner) return true
    files.push({
      path: f.path,
      size: f.size,
      action: 'already-processed',
      target: null,
      reason: `item ${owner.itemId} (${owner.state})`,
      code: 'ALREADY_PROCESSED',
    })
    return false
  })
}

function statusPlan(flow: StatusFlow, f: DiscoveredFile): PlannedFile {
  return {
    path: f.path,
    size: f.size,
    action: 'apply',
    target: null,
    reason: `status file: rows update ${flow.object} records`,
    code: null,
  }
}

/** Resubmissions first (they go to the rejected file's record), then the others matched and checked for same-named files. */
async function inboundPlan(
  services: Services,
  flow: InboundFlow,
  fresh: IndexedFile[],
  batches: readonly PlannedBatch[],
  signal: AbortSignal | undefined,
): Promise<PlannedFile[]> {
  const files: PlannedFile[] = []
  const resubmissions = await correlateResubmissions(flow, fresh, services.store, services.sdrive, signal)
  for (const [f, { review, target }] of resubmissions) {
    files.push({
      path: f.path,
      size: f.size,
      action: 'resubmission',
      target: { object: target.object, recordId: target.recordId, fileObject: target.fileObject },
      reason: `answers rejection ${review.correlationId} of ${review.originalName} (${flow.review?.resubmission ?? 'version'})`,
      code: null,
    })
  }
  const rest = fresh.filter((f) => {
    if (resubmissions.has(f)) return false
    if (!notInIndexOf(flow, batches, f)) return true
    files.push({
      path: f.path,
      size: f.size,
      action: 'fail',
      target: null,
      reason: `${f.name} has no row in its batch's index`,
      code: 'NOT_IN_INDEX',
    })
    return false
  })
  const matches = await matchFiles(rest, flow, services.sf, signal, services.clock.now())
  const existing = await existingNames(services, rest, matches, signal)
  const planned = rest.map((f) => matchPlan(flow, f, matches.get(f), existing))
  if (flow.existing === 'version') {
    const versions = rest.filter((_, i) => planned[i]?.action === 'version')
    const same = await unchangedFiles(services, flow, versions, matches, signal)
    for (const [i, f] of rest.entries()) {
      const current = same.get(f)
      if (current) planned[i] = { ...(planned[i] as PlannedFile), action: 'unchanged', ...current }
    }
  }
  files.push(...planned)
  return files
}

/**
 * Of the files that would become versions, those whose bytes equal the current version's: the
 * current version must be the bridge's own upload (its SHA-256 known) and of the same size, and
 * only then is the file read and hashed. Nothing is written.
 */
async function unchangedFiles(
  services: Services,
  flow: InboundFlow,
  files: DiscoveredFile[],
  matches: ReadonlyMap<DiscoveredFile, MatchResult>,
  signal: AbortSignal | undefined,
): Promise<Map<DiscoveredFile, { reason: string; code: string }>> {
  const same = new Map<DiscoveredFile, { reason: string; code: string }>()
  const currents = await currentVersions(services, files, matches, signal)
  const digests = await services.store.uploadDigests([...currents.values()].map((c) => c.id))
  const remote = services.remotes.get(flow.source.endpoint)
  for (const [f, current] of currents) {
    const known = digests.get(current.id)
    if (!known || current.sizeBytes !== f.size) continue
    const sha256 = await remote.read(f.path, sha256Of, signal ? { signal } : {})
    if (sha256 === known)
      same.set(f, { reason: `identical to the current version ${current.id}`, code: 'UNCHANGED' })
  }
  return same
}

/** Each file's one current version on its record (one query per file object); files with none or several are left out. */
async function currentVersions(
  services: Services,
  files: DiscoveredFile[],
  matches: ReadonlyMap<DiscoveredFile, MatchResult>,
  signal: AbortSignal | undefined,
): Promise<Map<DiscoveredFile, SDriveFile>> {
  const byObject = new Map<string, DiscoveredFile[]>()
  for (const f of files) {
    const { target } = matches.get(f) as Matched
    const k = `${target.fileObject}\u0000${target.parentField}`
    byObject.set(k, [...(byObject.get(k) ?? []), f])
  }
  const currents = new Map<DiscoveredFile, SDriveFile>()
  for (const [k, group] of byObject) {
    const [fileObject, parentField] = k.split('\u0000') as [string, string]
    const latest = await services.sdrive.findLatestFiles(
      fileObject,
      parentField,
      [...new Set(group.map((f) => (matches.get(f) as Matched).target.recordId))],
      [...new Set(group.map((f) => sdriveFileName(f.name)))],
      signal ? { signal } : {},
    )
    for (const f of group) {
      const recordId = (matches.get(f) as Matched).target.recordId.slice(0, 15)
      const mine = latest.filter(
        (l) => l.parentId.slice(0, 15) === recordId && l.fileName === sdriveFileName(f.name),
      )
      if (mine.length === 1) currents.set(f, mine[0] as SDriveFile)
    }
  }
  return currents
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

type Matched = { ok: true; target: ItemTarget }

/** How many files of each name are on each matched record already ("recordId15\0name" → count). */
async function existingNames(
  services: Services,
  files: DiscoveredFile[],
  matches: ReadonlyMap<DiscoveredFile, MatchResult>,
  signal: AbortSignal | undefined,
): Promise<Map<string, number>> {
  const existing = new Map<string, number>()
  const byObject = new Map<string, DiscoveredFile[]>()
  for (const f of files.filter((f) => matches.get(f)?.ok)) {
    const m = matches.get(f) as Matched
    const k = `${m.target.fileObject}\u0000${m.target.parentField}`
    byObject.set(k, [...(byObject.get(k) ?? []), f])
  }
  for (const [k, group] of byObject) {
    const [fileObject, parentField] = k.split('\u0000') as [string, string]
    const targets = group.map((f) => (matches.get(f) as Matched).target)
    const found = await services.sdrive.findFiles(
      fileObject,
      parentField,
      [...new Set(targets.map((t) => t.recordId))],
      [...new Set(group.map((f) => sdriveFileName(f.name)))],
      signal ? { signal } : {},
    )
    for (const file of found) {
      const key = `${file.parentId.slice(0, 15)}\u0000${file.fileName}`
      existing.set(key, (existing.get(key) ?? 0) + 1)
    }
  }
  return existing
}

function matchPlan(
  flow: InboundFlow,
  f: DiscoveredFile,
  m: MatchResult | undefined,
  existing: ReadonlyMap<string, number>,
): PlannedFile {
  if (!m?.ok) {
    return {
      path: f.path,
      size: f.size,
      action: 'fail',
      target: null,
      reason: m?.message ?? null,
      code: m?.code ?? null,
    }
  }
  const exists = existing.has(`${m.target.recordId.slice(0, 15)}\u0000${sdriveFileName(f.name)}`)
  return {
    path: f.path,
    size: f.size,
    action: exists ? flow.existing : 'upload',
    target: { object: m.target.object, recordId: m.target.recordId, fileObject: m.target.fileObject },
    reason: exists ? `a file named ${sdriveFileName(f.name)} is already on the record` : null,
    code: null,
  }
}
