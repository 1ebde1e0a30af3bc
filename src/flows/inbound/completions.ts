/**
 * Finishes the uploads of several batches with one S-Drive PUT /files.
 *
 * POST /files takes one parent record, so a round starts one upload per record; PUT /files
 * takes only WIP ids, so batches bound for different records can share it. Without sharing, a
 * product-image batch of 100 records costs a PUT per record (half its Salesforce calls).
 *
 * A batch whose S3 uploads are done waits for the others that could still join, at most
 * `lingerMs` and never past `maxIds` ids; it never waits when no other batch of the round is
 * still uploading, so the last batch of a round (and a round of one batch) goes at once. The
 * wait only postpones the tidy-up of files already safe in S3: a crash meanwhile leaves WIP
 * records that the next attempt reconciles, as it would after a crash before any PUT. Once the
 * run is aborted nothing waits: the next batch to arrive or leave, or the timer, sends at once.
 *
 * A shared PUT refused for a reason other than a transient fault is tried again for each batch
 * alone, so one batch's bad id never fails another batch's files.
 */
import { isTransient } from '../../domain/errors.js'
import type { CompleteResult, SDrive } from '../../ports/sdrive.js'

/** Up to two full batches (DEFAULT_BATCH_LIMITS.maxFiles is 100); an sObject Collection's size. */
export const MAX_COMPLETE_IDS = 200

export interface CompletionSlot {
  /** Completes these uploads (once per slot), possibly in one PUT with other batches'. */
  complete(wipFileIds: string[], versionIds: (string | null)[]): Promise<CompleteResult[]>
  /** The batch is done: it will not call complete() (again). */
  leave(): void
}

export interface Completions {
  /** A batch that may complete uploads later; every slot must be left. */
  join(): CompletionSlot
}

interface Request {
  wipFileIds: string[]
  versionIds: (string | null)[]
  resolve(results: CompleteResult[]): void
  reject(error: unknown): void
}

export interface CompletionsOptions {
  completeUpload: SDrive['completeUpload']
  signal: AbortSignal
  /** How long a batch waits for others (sdrive.completionWaitMs); 0: never. */
  lingerMs: number
  maxIds?: number
}

export function createCompletions(options: CompletionsOptions): Completions {
  const { completeUpload, signal, lingerMs } = options
  const maxIds = options.maxIds ?? MAX_COMPLETE_IDS
  // Requests with and without S3 version ids never share a PUT: a shared one would send
  // versionIds (blank for the unversioned) where the unversioned batch alone sends none.
  const pending = new Map<boolean, Request[]>([
    [false, []],
    [true, []],
  ])
  let couldJoin = 0
  let timer: NodeJS.Timeout | null = null

  const idsOf = (requests: Request[]) => requests.reduce((n, r) => n + r.wipFileIds.length, 0)

  function flush(): void {
    if (timer) clearTimeout(timer)
    timer = null
    for (const [lane, requests] of pending) {
      if (requests.length > 0) send(requests)
      pending.set(lane, [])
    }
  }

  /** Sends when nobody else could join, when aborted or told not to wait; else waits for the others at most lingerMs. */
  function settle(): void {
    const waiting = [...pending.values()].some((r) => r.length > 0)
    if (!waiting) return
    if (couldJoin === 0 || signal.aborted || lingerMs === 0) flush()
    else timer ??= setTimeout(flush, lingerMs)
  }

  function send(requests: Request[]): void {
    const wipFileIds = requests.flatMap((r) => r.wipFileIds)
    const versionIds = requests.some((r) => r.versionIds.length > 0)
      ? requests.flatMap((r) => (r.versionIds.length > 0 ? r.versionIds : r.wipFileIds.map(() => null)))
      : []
    completeUpload(wipFileIds, versionIds, { signal }).then(
      (results) => {
        const byWip = new Map(results.map((r) => [r.wipFileId, r]))
        for (const r of requests)
          r.resolve(r.wipFileIds.map((id) => byWip.get(id)).filter((x): x is CompleteResult => !!x))
      },
      (error) => {
        if (requests.length === 1 || isTransient(error) || signal.aborted) {
          for (const r of requests) r.reject(error)
          return
        }
        // Refused as a whole: each batch alone, so the refusal lands on the batch it is about.
        for (const r of requests) send([r])
      },
    )
  }

  return {
    join() {
      couldJoin++
      let state: 'open' | 'completing' | 'left' = 'open'
      const stopJoining = () => {
        if (state !== 'open') return
        couldJoin--
      }
      return {
        complete(wipFileIds, versionIds) {
          if (state !== 'open') return Promise.reject(new Error('complete() called twice for one batch'))
          stopJoining()
          state = 'completing'
          if (wipFileIds.length === 0) {
            settle()
            return Promise.resolve([])
          }
          const lane = versionIds.some((v) => v !== null)
          return new Promise<CompleteResult[]>((resolve, reject) => {
            const queue = pending.get(lane) as Request[]
            if (queue.length > 0 && idsOf(queue) + wipFileIds.length > maxIds) {
              send(queue)
              pending.set(lane, [])
            }
            ;(pending.get(lane) as Request[]).push({ wipFileIds, versionIds, resolve, reject })
            if (idsOf(pending.get(lane) as Request[]) >= maxIds) {
              send(pending.get(lane) as Request[])
              pending.set(lane, [])
            }
            settle()
          })
        },
        leave() {
          stopJoining()
          state = 'left'
          settle()
        },
      }
    },
  }
}
