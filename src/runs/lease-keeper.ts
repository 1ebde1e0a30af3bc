/**
 * This process's side of the run leases: it claims runs for the engines,
 * renews the leases of the runs they drive (a heartbeat every third of the
 * lease), tells an engine when a lease was lost so it stops driving that
 * run, and gives leases up when a run's driver ends.
 */

import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import { toBridgeError } from '../domain/errors.js'
import type { RunLeaseStore } from '../ports/run-leases.js'
import type { RunRecord, RunState } from '../ports/store.js'

export interface LeaseKeeper {
  readonly owner: string
  readonly leaseMs: number
  /** Claims runs nobody drives; the caller must hold() each one it starts driving. */
  claim(
    flows: readonly string[],
    states: readonly RunState[],
    options?: { ids?: readonly string[]; dueBy?: string; limit?: number },
  ): Promise<RunRecord[]>
  /** Renews the run's lease from now on; onLost runs once if another process took it. */
  hold(runId: string, onLost: () => void): void
  /** Stops renewing and gives the lease up (the run ended, or this process stopped driving it). */
  release(runId: string): Promise<void>
  close(): Promise<void>
}

export function processOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
}

export function createLeaseKeeper(options: {
  leases: RunLeaseStore
  leaseMs: number
  logger: Logger
  owner?: string
}): LeaseKeeper {
  const { leases, leaseMs, logger } = options
  const owner = options.owner ?? processOwnerId()
  const held = new Map<string, () => void>()
  let closed = false
  let renewing: Promise<void> | null = null

  async function heartbeat(): Promise<void> {
    const ids = [...held.keys()]
    if (ids.length === 0) return
    try {
      const kept = new Set(await leases.renew(owner, ids, leaseMs))
      for (const id of ids) {
        const onLost = held.get(id)
        if (kept.has(id) || !onLost) continue
        held.delete(id)
        logger.warn({ run: id, owner }, 'lease lost: another process drives this run now')
        onLost()
      }
    } catch (error) {
      // The database is unreachable: keep driving and try again; a lease that runs out meanwhile is
      // found lost at the next renewal that works.
      logger.warn({ err: toBridgeError(error).message }, 'could not renew run leases')
    }
  }

  const timer = setInterval(
    () => {
      if (renewing) return
      renewing = heartbeat().finally(() => {
        renewing = null
      })
    },
    Math.max(50, Math.floor(leaseMs / 3)),
  )
  timer.unref()

  return {
    owner,
    leaseMs,
    claim: (flows, states, claimOptions = {}) =>
      closed
        ? Promise.resolve([])
        : leases.claim({
            owner,
            leaseMs,
            flows,
            states,
            limit: claimOptions.limit ?? 100,
            ...(claimOptions.ids ? { ids: claimOptions.ids } : {}),
            ...(claimOptions.dueBy ? { dueBy: claimOptions.dueBy } : {}),
          }),
    hold(runId, onLost) {
      held.set(runId, onLost)
    },
    async release(runId) {
      held.delete(runId)
      await leases
        .release(owner, [runId])
        .catch((error) =>
          logger.warn(
            { run: runId, err: toBridgeError(error).message },
            'could not release a run lease; it will run out',
          ),
        )
    },
    async close() {
      if (closed) return
      closed = true
      clearInterval(timer)
      await renewing
      const ids = [...held.keys()]
      held.clear()
      await leases.release(owner, ids).catch(() => undefined)
      await leases.close()
    },
  }
}
