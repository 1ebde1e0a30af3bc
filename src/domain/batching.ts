/**
 * Groups files bound for the same S-Drive parent into upload batches, so
 * one POST and one PUT serve many files (the org's API budget is per call).
 */
export interface BatchLimits {
  maxFiles: number
  maxBytes: number
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxFiles: 100, maxBytes: 1024 ** 3 }

export function batchByKey<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  sizeOf: (item: T) => number,
  limits: BatchLimits = DEFAULT_BATCH_LIMITS,
): T[][] {
  const open = new Map<string, { items: T[]; bytes: number }>()
  const batches: T[][] = []
  for (const item of items) {
    const key = keyOf(item)
    const size = sizeOf(item)
    let batch = open.get(key)
    if (batch && (batch.items.length >= limits.maxFiles || batch.bytes + size > limits.maxBytes)) {
      batches.push(batch.items)
      batch = undefined
    }
    if (!batch) {
      batch = { items: [], bytes: 0 }
      open.set(key, batch)
    }
    batch.items.push(item)
    batch.bytes += size
  }
  for (const batch of open.values()) if (batch.items.length > 0) batches.push(batch.items)
  return batches
}
