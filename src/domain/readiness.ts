/**
 * Whether a listed file is complete enough to take. A file still being
 * written is never picked up: either it is old enough and did not change
 * across a re-check, or its done-marker exists.
 */
import type { Readiness } from '../config/schema.js'

export interface ListedFile {
  path: string
  name: string
  size: number
  modifiedAt: number
}

export type ReadinessVerdict = { ready: true } | { ready: false; reason: string }

export const DEFAULT_READINESS: Readiness = { mode: 'stable', stableSeconds: 5, minAgeSeconds: 10 }

/** Files that are markers themselves are never candidates. */
export function isMarker(name: string, readiness: Readiness): boolean {
  return readiness.mode === 'doneMarker' && name.endsWith(readiness.suffix) && name !== readiness.suffix
}

export function markerName(name: string, readiness: Readiness): string | null {
  return readiness.mode === 'doneMarker' ? `${name}${readiness.suffix}` : null
}

/** First look: age and marker. `namesInDir` is the set of names listed beside the file. */
export function firstLook(
  file: ListedFile,
  readiness: Readiness,
  namesInDir: ReadonlySet<string>,
  nowMs: number,
): ReadinessVerdict {
  if (readiness.mode === 'doneMarker') {
    return namesInDir.has(`${file.name}${readiness.suffix}`)
      ? { ready: true }
      : { ready: false, reason: `waiting for done-marker ${file.name}${readiness.suffix}` }
  }
  const ageSeconds = (nowMs - file.modifiedAt) / 1000
  if (ageSeconds < readiness.minAgeSeconds) {
    return {
      ready: false,
      reason: `modified ${Math.max(0, Math.floor(ageSeconds))}s ago, younger than minAgeSeconds=${readiness.minAgeSeconds}`,
    }
  }
  return { ready: true }
}

/** Second look after stableSeconds: size and mtime must not have moved. */
export function secondLook(before: ListedFile, after: ListedFile | undefined): ReadinessVerdict {
  if (after === undefined) return { ready: false, reason: 'file disappeared during the stability check' }
  if (after.size !== before.size || after.modifiedAt !== before.modifiedAt) {
    return {
      ready: false,
      reason: `still changing (size ${before.size}→${after.size}, mtime ${before.modifiedAt}→${after.modifiedAt})`,
    }
  }
  return { ready: true }
}

export function needsSecondLook(readiness: Readiness): boolean {
  return readiness.mode === 'stable' && readiness.stableSeconds > 0
}

/** The exactly-once key of a file version on an endpoint. */
export function ledgerKey(endpoint: string, file: ListedFile): string {
  return JSON.stringify([endpoint, file.path, file.size, file.modifiedAt])
}
