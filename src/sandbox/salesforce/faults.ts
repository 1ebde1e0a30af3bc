/** Injected failures and the org's API usage counter. */
import type { FaultSpec, FaultTarget } from './types.js'

interface PendingFault {
  remaining: number
  spec: FaultSpec
}

export class Faults {
  private readonly pending = new Map<FaultTarget, PendingFault[]>()

  add(target: FaultTarget, count: number, spec: FaultSpec): void {
    if (count <= 0) return
    const queue = this.pending.get(target) ?? []
    queue.push({ remaining: count, spec })
    this.pending.set(target, queue)
  }

  /** Consumes and returns the fault for this request, if one is armed for it. */
  take(target: FaultTarget, method: string): FaultSpec | undefined {
    const queue = this.pending.get(target)
    const index = queue?.findIndex((f) => !f.spec.method || f.spec.method.toUpperCase() === method) ?? -1
    if (!queue || index < 0) return undefined
    const fault = queue[index]!
    fault.remaining -= 1
    if (fault.remaining === 0) queue.splice(index, 1)
    return fault.spec
  }
}

/** Kinds that are not counted against the daily API limit. */
const UNMETERED = new Set(['token', 's3'])

export class Usage {
  readonly counts: Record<string, number> = {}
  used = 0

  constructor(readonly limit: number) {}

  count(kind: string): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1
  }

  apiCalls(): number {
    return Object.entries(this.counts)
      .filter(([kind]) => !UNMETERED.has(kind))
      .reduce((sum, [, n]) => sum + n, 0)
  }

  exhausted(): boolean {
    return this.used >= this.limit
  }

  header(): string {
    return `api-usage=${this.used}/${this.limit}`
  }
}
