/** Injected failures and the org's API usage counter. */
import type { FaultSpec, FaultTarget } from './types.js'

interface PendingFault {
  remaining: number
  spec: FaultSpec
}

interface PeriodicFault {
  targets: ReadonlySet<FaultTarget>
  every: number
  seen: number
  spec: FaultSpec
}

/** The Salesforce REST kinds (everything but the token endpoint and S3). */
export const REST_TARGETS: readonly FaultTarget[] = ['query', 'sobject', 'composite', 'apex']

/** Faults as a real org answers them, for failNext / failEvery. */
export const SALESFORCE_FAULTS = {
  /** 503 SERVER_UNAVAILABLE from the platform (maintenance, an overloaded instance), Apex REST included. */
  unavailable: { status: 503, errorCode: 'SERVER_UNAVAILABLE' },
  /** 401 INVALID_SESSION_ID: the access token expired or was revoked. */
  invalidSession: { status: 401, errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' },
  /** 403 REQUEST_LIMIT_EXCEEDED: the org's 24-hour API quota is used up. */
  requestLimit: {
    status: 403,
    errorCode: 'REQUEST_LIMIT_EXCEEDED',
    message: 'TotalRequests Limit exceeded.',
  },
} as const satisfies Record<string, FaultSpec>

export class Faults {
  private readonly pending = new Map<FaultTarget, PendingFault[]>()
  private readonly periodic: PeriodicFault[] = []
  /** Faults answered so far, per target. */
  readonly injected: Partial<Record<FaultTarget, number>> = {}

  add(target: FaultTarget, count: number, spec: FaultSpec): void {
    if (count <= 0) return
    const queue = this.pending.get(target) ?? []
    queue.push({ remaining: count, spec })
    this.pending.set(target, queue)
  }

  /** Every `every`-th request to any of `targets` (counted together) fails with `spec`, until cleared. */
  addPeriodic(targets: readonly FaultTarget[], every: number, spec: FaultSpec): void {
    if (!Number.isInteger(every) || every < 1) throw new RangeError('every must be an integer ≥ 1')
    this.periodic.push({ targets: new Set(targets), every, seen: 0, spec })
  }

  /** Disarms every pending and periodic fault. */
  clear(): void {
    this.pending.clear()
    this.periodic.length = 0
  }

  /** Consumes and returns the fault for this request, if one is armed for it (one-shot faults first). */
  take(target: FaultTarget, method: string): FaultSpec | undefined {
    const spec = this.select(target, method)
    if (spec) this.injected[target] = (this.injected[target] ?? 0) + 1
    return spec
  }

  private select(target: FaultTarget, method: string): FaultSpec | undefined {
    const matches = (spec: FaultSpec) => !spec.method || spec.method.toUpperCase() === method
    const queue = this.pending.get(target)
    const index = queue?.findIndex((f) => matches(f.spec)) ?? -1
    if (queue && index >= 0) {
      const fault = queue[index]!
      fault.remaining -= 1
      if (fault.remaining === 0) queue.splice(index, 1)
      return fault.spec
    }
    let hit: FaultSpec | undefined
    for (const fault of this.periodic) {
      if (!fault.targets.has(target) || !matches(fault.spec)) continue
      fault.seen += 1
      // Every periodic fault counts the request, so two of them keep their own rhythm.
      if (fault.seen % fault.every === 0) hit ??= fault.spec
    }
    return hit
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
