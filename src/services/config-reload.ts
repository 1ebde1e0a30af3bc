/**
 * Reloading the configuration without a restart (SIGHUP, POST
 * /v1/admin/reload): the file is read and validated as at start-up; an
 * invalid one is refused (ConfigError, CONFIG_INVALID with key paths) and
 * the running configuration stays. A valid one puts its flows and endpoints
 * in force and the bridge starts, stops and rebuilds what they drive.
 * Reloads run one at a time, in the order asked. Each replica reloads its
 * own file: nothing here reaches other processes.
 */
import type { Logger } from 'pino'
import type { LoadedConfig } from '../config/load.js'
import type { ConfigChanges } from '../domain/config-changes.js'
import { BridgeError } from '../domain/errors.js'
import type { Clock } from '../ports/clock.js'
import type { LiveConfig } from './live-config.js'

export interface ReloadResult extends ConfigChanges {
  reloadedAt: string
}

export interface ConfigReloadDeps {
  live: LiveConfig
  /** Reads and validates the configuration file; null: the bridge was not started from a file. */
  load: (() => Promise<LoadedConfig>) | null
  /** Starts, stops and rebuilds what the changed flows and endpoints drive (called after apply). */
  applied(changes: ConfigChanges): Promise<void>
  clock: Clock
  logger: Logger
}

export interface ConfigReloader {
  reload(trigger: 'api' | 'signal'): Promise<ReloadResult>
}

const summary = (changes: ConfigChanges) => ({
  flows: { ...changes.flows },
  endpoints: { ...changes.endpoints },
  restartRequired: changes.restartRequired,
})

export function createConfigReloader(deps: ConfigReloadDeps): ConfigReloader {
  const { live, logger } = deps
  let last: Promise<unknown> = Promise.resolve()

  async function reloadNow(trigger: 'api' | 'signal'): Promise<ReloadResult> {
    if (!deps.load) throw new BridgeError('CONFLICT', 'this bridge was not started from a configuration file')
    let next: LoadedConfig
    try {
      next = await deps.load()
    } catch (error) {
      const code = error instanceof BridgeError ? error.code : 'INTERNAL'
      logger.warn({ trigger, code }, 'configuration reload refused; the running configuration stays')
      throw error
    }
    const changes = live.changesTo(next)
    live.apply(next)
    await deps.applied(changes)
    // Names and key paths only: values (passwords, keys) never reach the log.
    logger.info({ trigger, ...summary(changes) }, 'configuration reloaded')
    return { ...changes, reloadedAt: new Date(deps.clock.now()).toISOString() }
  }

  return {
    reload(trigger) {
      const result = last.then(
        () => reloadNow(trigger),
        () => reloadNow(trigger),
      )
      last = result.catch(() => {})
      return result
    },
  }
}
