/**
 * The service as compiled by test/support/build-service.ts (tap's `before`
 * script) for tests that run it, its CLI or a helper script as a child process.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
export const SERVICE_BUILD_DIR = join(repoRoot, '.tap', 'service')

/** Scripts under test/support that tests run as children, compiled with the service. */
export const CHILD_SCRIPTS = [
  'test/support/status-parse-peak.ts',
  'test/support/parse-outbound-message.ts',
  // The bench's baseline helpers, for test/bench/goal-table.test.ts.
  'bench/raw-worker.ts',
  'bench/cpu.ts',
  'bench/bare-server.ts',
]

/** The compiled module of `source` (a .ts path relative to the repository root). */
export function compiled(source: string): string {
  const path = join(SERVICE_BUILD_DIR, source.replace(/\.ts$/, '.js'))
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run the tests with tap, whose before script compiles the service`)
  }
  return path
}

/**
 * The environment for a child process: tap's own, less its process-info hook
 * when coverage is off (the hook only feeds coverage, and costs each child about
 * 0.5 s of CPU at start).
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra }
  if (process.env.TAP_DISABLE_COVERAGE === '1' && env.NODE_OPTIONS) {
    env.NODE_OPTIONS = env.NODE_OPTIONS.split(/\s+/)
      .filter((option) => !option.includes('@tapjs/processinfo'))
      .join(' ')
  }
  return env
}
