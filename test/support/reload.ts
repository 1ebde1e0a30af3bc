/**
 * Shared by the reload end-to-end files: an in-process bridge started from a
 * configuration file that the test rewrites and reloads (POST
 * /v1/admin/reload), and the jobs it finishes, awaited as run events.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { loadConfig } from '../../src/config/load.js'
import type { RunEventOf } from '../../src/runs/events.js'
import { type Harness, type HarnessOptions, startHarness } from './harness.js'

export type Config = Record<string, any>
type Finished = RunEventOf<'run-finished'>

export interface ReloadSetup {
  h: Harness
  dir: string
  /** The configuration the bridge started with (a fresh copy each time). */
  base(): Config
  /** Writes `config` to the file and reloads it; the answer of POST /v1/admin/reload. */
  reload(config: Config): ReturnType<Harness['api']>
  /** Resolves with the flow's finished runs once there are `count` of them (counted from the start). */
  finished(flow: string, count: number): Promise<Finished[]>
}

export async function reloadSetup(t: Test, options: Omit<HarnessOptions, 'bridge'>): Promise<ReloadSetup> {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-reload-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const configPath = join(dir, 'bridge.json')
  const env: Record<string, string> = {}
  const h = await startHarness({
    ...options,
    sqlitePath: join(dir, 'bridge.sqlite'),
    // Schedules on: the polling trigger runs only with them.
    bridge: { configSource: () => loadConfig(configPath, env), schedules: true },
  })
  t.teardown(() => h.close())
  Object.assign(env, h.env)
  const finished: Finished[] = []
  const waiting = new Set<() => void>()
  h.server.bridge.events.on('run-finished', (event) => {
    finished.push(event)
    for (const check of [...waiting]) check()
  })
  return {
    h,
    dir,
    base: () => JSON.parse(h.configText) as Config,
    async reload(config) {
      await writeFile(configPath, JSON.stringify(config))
      return h.api('POST', '/v1/admin/reload')
    },
    finished(flow, count) {
      return new Promise((resolve) => {
        const check = () => {
          const of = finished.filter((e) => e.flow === flow)
          if (of.length < count) return
          waiting.delete(check)
          resolve(of)
        }
        waiting.add(check)
        check()
      })
    },
  }
}

/**
 * For what no event tells (a server's subscription count, a counter): checked every 20 ms. The
 * deadline only bounds a hang (a subscription takes seconds on a loaded machine).
 */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
