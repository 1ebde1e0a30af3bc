/**
 * One RemoteFiles (a connection pool) per endpoint, made on first use, that
 * survives configuration reloads: an endpoint whose settings changed gets a
 * new pool, and its old pool is retired — closed once the runs that started
 * on it have ended, so a transfer in flight finishes on the connection it
 * began on and the next run connects with the new settings.
 */
import { isDeepStrictEqual } from 'node:util'
import type { Logger } from 'pino'
import type { EndpointConfig } from '../config/schema.js'
import { BridgeError } from '../domain/errors.js'
import type { PinnedRemotes, RemoteFiles, RemoteRegistry } from '../ports/remote-files.js'

export type RemoteFactory = (endpoint: EndpointConfig, logger: Logger) => RemoteFiles

export interface ReloadableRemotes {
  /** The pools in force now (for work outside a run: dry runs, rejections, checks). */
  remotes: RemoteRegistry
  pin(): PinnedRemotes
  /** Retires the pools of endpoints that changed or went; unchanged ones keep theirs. */
  replace(endpoints: ReadonlyMap<string, EndpointConfig>): void
  /** Closes every pool, retired ones included. */
  close(): Promise<PromiseSettledResult<void>[]>
}

interface Entry {
  endpoint: EndpointConfig
  remote: RemoteFiles | null
  /** Runs pinned to this entry. */
  users: number
  retired: boolean
}

export function createReloadableRemotes(
  initial: ReadonlyMap<string, EndpointConfig>,
  factory: RemoteFactory,
  logger: Logger,
): ReloadableRemotes {
  const entryOf = (endpoint: EndpointConfig): Entry => ({ endpoint, remote: null, users: 0, retired: false })
  let current = new Map([...initial].map(([name, e]) => [name, entryOf(e)]))
  const closing: Promise<void>[] = []
  /** Retired pools still pinned by a run: close() must not miss them. */
  const retiredInUse = new Set<Entry>()

  const remoteOf = (entry: Entry): RemoteFiles => {
    entry.remote ??= factory(entry.endpoint, logger.child({ endpoint: entry.endpoint.name }))
    return entry.remote
  }
  const registryOver = (entries: ReadonlyMap<string, Entry>): RemoteRegistry => ({
    get(name) {
      const entry = entries.get(name)
      if (!entry) throw new BridgeError('NOT_FOUND', `endpoint "${name}" is not configured`)
      return remoteOf(entry)
    },
  })
  const closeIfIdle = (entry: Entry): void => {
    if (!entry.retired || !entry.remote) return
    if (entry.users > 0) {
      retiredInUse.add(entry)
      return
    }
    retiredInUse.delete(entry)
    const remote = entry.remote
    entry.remote = null
    closing.push(
      remote.close().catch((error: unknown) => {
        logger.warn(
          { endpoint: entry.endpoint.name, err: (error as Error).message },
          'closing a retired pool failed',
        )
      }),
    )
  }

  function pin(): PinnedRemotes {
    const entries = current
    for (const entry of entries.values()) entry.users++
    let released = false
    return {
      remotes: registryOver(entries),
      endpoints: new Map([...entries].map(([name, entry]) => [name, entry.endpoint])),
      release() {
        if (released) return
        released = true
        for (const entry of entries.values()) {
          entry.users--
          closeIfIdle(entry)
        }
      },
    }
  }

  return {
    remotes: { get: (name) => registryOver(current).get(name), pin },
    pin,
    replace(endpoints) {
      const next = new Map<string, Entry>()
      for (const [name, endpoint] of endpoints) {
        const kept = current.get(name)
        next.set(name, kept && isDeepStrictEqual(kept.endpoint, endpoint) ? kept : entryOf(endpoint))
      }
      for (const [name, entry] of current) {
        if (next.get(name) === entry) continue
        entry.retired = true
        closeIfIdle(entry)
      }
      current = next
    },
    async close() {
      const open = [...current.values(), ...retiredInUse].flatMap((entry) =>
        entry.remote ? [entry.remote.close()] : [],
      )
      return Promise.allSettled([...closing, ...open])
    },
  }
}
