/**
 * What a continued transfer shares in both directions: which failures it
 * continues after, the bound and the backoff of its reconnects, and the
 * tally of bytes moved over the wire and continuations made.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelay } from '../domain/backoff.js'
import { type BridgeError, toBridgeError } from '../domain/errors.js'
import type { ResumePolicy } from '../ports/remote-files.js'

/** Bytes that crossed the wire to or from the remote server, re-sent ones included, and continuations. */
export interface TransferTally {
  bytesMoved: number
  resumes: number
}

export function emptyTally(): TransferTally {
  return { bytesMoved: 0, resumes: 0 }
}

/**
 * A lost or stalled connection: the bytes before the cut are good and the
 * server may take the rest on a new connection. Anything else (a refusal, a
 * full disk, a changed file) fails the attempt as before.
 */
const CONTINUABLE = new Set(['CONNECTION_LOST', 'TIMEOUT'])

export interface ContinueDecision {
  /** The failure as a BridgeError, for rethrowing. */
  error: BridgeError
  /** True when the transfer may continue after it. */
  allowed: boolean
}

export function mayContinue(
  error: unknown,
  policy: ResumePolicy | undefined,
  resumesSoFar: number,
  signal: AbortSignal | undefined,
): ContinueDecision {
  const e = toBridgeError(error, 'REMOTE_IO')
  const allowed =
    policy?.enabled === true &&
    resumesSoFar < policy.maxPerAttempt &&
    signal?.aborted !== true &&
    CONTINUABLE.has(e.code)
  return { error: e, allowed }
}

/** Waits the backoff before continuation number `resume` (1 for the first); rejects when aborted. */
export async function reconnectDelay(
  policy: ResumePolicy,
  resume: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const ms = backoffDelay(resume - 1, { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs })
  if (ms > 0) await sleep(ms, undefined, signal ? { signal } : {})
}

/** An item's bytesMoved/resumes with one more attempt's tally added. */
export function withTally(
  item: { bytesMoved: number; resumes: number },
  tally: TransferTally,
): { bytesMoved: number; resumes: number } {
  return { bytesMoved: item.bytesMoved + tally.bytesMoved, resumes: item.resumes + tally.resumes }
}
