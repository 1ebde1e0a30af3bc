/**
 * The org-wide API-limit gate. When Salesforce answers REQUEST_LIMIT_EXCEEDED
 * the whole org is out of calls, so every caller pausing on its own timer
 * only multiplies the refused calls (hundreds of jobs × one call per backoff).
 * Instead the gate closes once: later calls wait here (in arrival order,
 * each honouring its own AbortSignal), one probe call per interval asks the
 * org whether calls are allowed again, and a successful probe reopens the
 * gate and releases the waiters.
 */
import type { Logger } from 'pino'
import type { ApiLimitPause } from '../../ports/salesforce.js'

export type ProbeVerdict = 'open' | 'limited'

export interface ApiLimitGateOptions {
  probeIntervalMs: number
  /** One cheap call; 'limited' while the org still refuses, throws on any other fault (the gate stays closed). */
  probe(): Promise<ProbeVerdict>
  logger: Logger
  /** Told on every close (true) and reopen (false). */
  onChange?: (paused: boolean) => void
  now?: () => number
}

export interface ApiLimitGate {
  /** Resolves at once while open; while closed, when the gate reopens. Rejects with the signal's reason on abort. */
  pass(signal?: AbortSignal): Promise<void>
  /** A call was refused for the API limit: close the gate (once) and start probing. */
  trip(): void
  pause(): ApiLimitPause | null
  /** Stops probing; calls still waiting stay until their own signals abort them. */
  dispose(): void
}

interface Waiter {
  resolve(): void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

export function createApiLimitGate(options: ApiLimitGateOptions): ApiLimitGate {
  const now = options.now ?? Date.now
  const log = options.logger
  let closedAt: number | null = null
  let probes = 0
  let timer: NodeJS.Timeout | undefined
  let disposed = false
  /** A probe is on the wire: a trip meanwhile must not start a second one. */
  let probing = false
  const waiters: Waiter[] = []

  const reopen = () => {
    if (closedAt === null) return
    log.info(
      { pausedMs: now() - closedAt, probes, released: waiters.length },
      'Salesforce API limit lifted; calls resume',
    )
    closedAt = null
    probes = 0
    options.onChange?.(false)
    // Arrival order: the oldest waiter's call goes out first.
    for (const waiter of waiters.splice(0)) {
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort)
      waiter.resolve()
    }
  }

  const scheduleProbe = () => {
    if (disposed || timer || probing) return
    timer = setTimeout(() => {
      timer = undefined
      void probeOnce()
    }, options.probeIntervalMs)
    holdProcess()
  }

  /** The probe keeps the process alive only while calls wait for it (a pause alone must not). */
  const holdProcess = () => {
    if (waiters.length > 0) timer?.ref()
    else timer?.unref()
  }

  const probeOnce = async () => {
    if (closedAt === null || disposed) return
    probes++
    probing = true
    let verdict: ProbeVerdict
    try {
      verdict = await options.probe()
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'API-limit probe failed; the pause continues')
      verdict = 'limited'
    } finally {
      probing = false
    }
    if (verdict === 'open') reopen()
    else scheduleProbe()
  }

  return {
    pass(signal) {
      if (closedAt === null) return Promise.resolve()
      if (signal?.aborted) return Promise.reject(signal.reason)
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = { resolve, signal, onAbort: undefined }
        if (signal) {
          waiter.onAbort = () => {
            const index = waiters.indexOf(waiter)
            if (index >= 0) waiters.splice(index, 1)
            holdProcess()
            reject(signal.reason)
          }
          signal.addEventListener('abort', waiter.onAbort, { once: true })
        }
        waiters.push(waiter)
        holdProcess()
      })
    },

    trip() {
      if (disposed) return
      if (closedAt === null) {
        closedAt = now()
        probes = 0
        log.warn(
          { probeIntervalMs: options.probeIntervalMs },
          'Salesforce API limit reached; all Salesforce calls pause until a probe succeeds',
        )
        options.onChange?.(true)
      }
      scheduleProbe()
    },

    pause: () => (closedAt === null ? null : { since: closedAt, probes, waiting: waiters.length }),

    dispose() {
      disposed = true
      clearTimeout(timer)
      timer = undefined
    },
  }
}
