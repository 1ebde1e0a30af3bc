/**
 * The container's HEALTHCHECK: `node dist/src/healthcheck.js`. It reads the
 * same configuration the service reads ($BRIDGE_CONFIG, with its ${VAR}
 * references) and asks `/healthz` on the port and address the service really
 * listens on (`server.port`, `server.host`), so a port changed in the file
 * cannot leave the check asking the wrong one (it used to read $PORT, which
 * the service never reads). Exit 0 healthy, 1 not.
 */
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { type LoadedConfig, loadConfig } from './config/load.js'

/** Docker's --timeout is 5 s; give up before it so the failure has our reason, not a kill. */
const PROBE_TIMEOUT_MS = 4000

/** Where the service answers `/healthz`, from its `server` section; a wildcard address is asked on loopback. */
export function healthUrlOf(server: Pick<LoadedConfig['server'], 'host' | 'port'>): string {
  const wildcard = server.host === '0.0.0.0' || server.host === '::' || server.host === ''
  const host = wildcard ? '127.0.0.1' : server.host.includes(':') ? `[${server.host}]` : server.host
  return `http://${host}:${server.port}/healthz`
}

export async function probeHealth(
  url: string,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<{ ok: boolean; reason: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    await res.body?.cancel()
    return { ok: res.ok, reason: `${url} answered ${res.status}` }
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name
    return { ok: false, reason: `${url}: ${cause}` }
  }
}

async function main(): Promise<number> {
  const config = await loadConfig(process.env.BRIDGE_CONFIG ?? './bridge.yaml', process.env)
  const { ok, reason } = await probeHealth(healthUrlOf(config.server))
  if (!ok) process.stderr.write(`unhealthy: ${reason}\n`)
  return ok ? 0 : 1
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
if (isMain) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`unhealthy: ${error instanceof Error ? error.message : String(error)}\n`)
      process.exit(1)
    },
  )
}
