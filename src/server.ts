/**
 * The only place that starts things: load the configuration, build the
 * bridge, listen, resume unfinished runs, and shut down cleanly on SIGTERM
 * (readiness turns false first; a second signal forces the exit). SIGHUP
 * reloads the configuration file (src/services/config-reload.ts).
 */
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import app from './app.js'
import { type Bridge, type BridgeOverrides, createBridge } from './bridge.js'
import { ConfigError, type LoadedConfig, loadConfig } from './config/load.js'
import { createLogger } from './logging/logger.js'
import { buildServerOptions } from './server-options.js'
import { collectStartupGarbage } from './startup-gc.js'

/** Pending connections the kernel may hold for us (see listen below). */
const LISTEN_BACKLOG = 4096

export interface RunningServer {
  app: FastifyInstance
  bridge: Bridge
  url: string
  close(): Promise<void>
}

export async function buildApp(
  bridge: Bridge,
  isShuttingDown: () => boolean = () => false,
): Promise<FastifyInstance> {
  const fastify = Fastify(buildServerOptions(bridge.config, bridge.logger))
  await fastify.register(app, { bridge, isShuttingDown })
  await fastify.ready()
  return fastify
}

export async function startServer(
  config: LoadedConfig,
  logger: Logger,
  overrides: BridgeOverrides & { schedules?: boolean } = {},
): Promise<RunningServer> {
  let shuttingDown = false
  const bridge = await createBridge(config, logger, overrides)
  const fastify = await buildApp(bridge, () => shuttingDown)
  // A burst of connections (thousands of export requests at once) waits in the kernel's accept
  // queue instead of being reset: Node's default of 511 overflows (the kernel caps it at somaxconn).
  const address = await fastify.listen({
    host: config.server.host,
    port: config.server.port,
    backlog: LISTEN_BACKLOG,
  })
  await bridge.start({ schedules: overrides.schedules !== false })
  let closing: Promise<void> | null = null
  return {
    app: fastify,
    bridge,
    url: address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1'),
    close() {
      closing ??= (async () => {
        // Readiness turns false first, so a load balancer stops sending; then no new
        // requests, then in-flight transfers get the grace period to finish.
        shuttingDown = true
        await fastify.close()
        await bridge.close({ graceMs: config.server.shutdownGraceMs })
      })()
      return closing
    },
  }
}

/**
 * BRIDGE_TEST_POLL_KILL_AT=<step>: the process kills itself (SIGKILL, no
 * cleanup) when a poll tick reaches that step, so the e2e tests reach the
 * crash windows between claim and job deterministically. Unset in production.
 */
function testHooks(env: NodeJS.ProcessEnv): BridgeOverrides {
  const killAt = env.BRIDGE_TEST_POLL_KILL_AT
  if (!killAt) return {}
  return {
    onPollStep: (step) => {
      if (step === killAt) process.kill(process.pid, 'SIGKILL')
    },
  }
}

async function main(): Promise<void> {
  const logger = createLogger()
  const path = process.env.BRIDGE_CONFIG ?? './bridge.yaml'
  let config: LoadedConfig
  try {
    config = await loadConfig(path, process.env)
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`invalid configuration in ${path}:\n${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
  const server = await startServer(config, logger, {
    ...testHooks(process.env),
    configSource: () => loadConfig(path, process.env),
  })
  logger.info({ url: server.url, flows: config.flows.map((f) => f.name) }, 'sdrive-ftp-bridge listening')
  collectStartupGarbage()

  let signals = 0
  const onSignal = (signal: NodeJS.Signals) => {
    signals++
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    logger.info({ signal }, 'shutting down')
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGHUP', () => reloadOnSignal(server.bridge, logger))
}

/** SIGHUP: the same reload as POST /v1/admin/reload; a refused file is logged by key path. */
function reloadOnSignal(bridge: Bridge, logger: Logger): void {
  bridge.reload('signal').catch((error: unknown) => {
    if (error instanceof ConfigError) {
      logger.error({ code: error.code, issues: error.issues }, 'configuration reload refused: invalid file')
      return
    }
    logger.error(
      { err: error instanceof Error ? error.message : String(error) },
      'configuration reload failed',
    )
  })
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
if (isMain) {
  main().catch((error: unknown) => {
    process.stderr.write(`fatal: ${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(1)
  })
}
