/**
 * G8 of issue 17: `npm test` wall time and its slowest test file. The suite takes ~18 minutes on
 * 2 cores, so the bench does not run it by default: `.ci/run` records each run it makes in
 * .ci/suite-times.json (`tsx bench/suite.ts record LOG WALL_SECONDS STATUS`), and the bench reads
 * the latest. BENCH_SUITE=1 makes the bench run `npx tap` itself and time it (one pass: a median of
 * three would take about an hour). BENCH_SUITE_FILE: another recorded file.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import type { GoalRow } from './goals.js'
import { isMain, log } from './lib.js'

export const SUITE_FILE = '.ci/suite-times.json'
const WALL_GOAL_S = 8 * 60
const FILE_GOAL_S = 60

export interface SuiteTimes {
  /** How the figure was obtained, for the table. */
  source: string
  finishedAt: string
  wallSeconds: number
  exitStatus: number
  /** Every test file tap reported, slowest first. */
  files: { file: string; seconds: number }[]
}

/** The per-file times of tap's output: "ok 12 - test/x.test.ts # time=1234.5ms". */
export function parseTapFileTimes(output: string): { file: string; seconds: number }[] {
  const files: { file: string; seconds: number }[] = []
  for (const match of output.matchAll(/^(?:not )?ok \d+ - (test\/\S+) # time=([\d.]+)ms/gm))
    files.push({ file: match[1] as string, seconds: Number(match[2]) / 1000 })
  return files.sort((a, b) => b.seconds - a.seconds)
}

async function runTap(): Promise<SuiteTimes> {
  log('G8: running the test suite (npx tap), ~18 min on 2 cores')
  const t0 = Date.now()
  const child = spawn('npx', ['tap'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  return {
    source: 'measured by this bench (BENCH_SUITE=1): npx tap, after the build',
    finishedAt: new Date().toISOString(),
    wallSeconds: (Date.now() - t0) / 1000,
    exitStatus: code ?? 1,
    files: parseTapFileTimes(output),
  }
}

async function readRecorded(path: string): Promise<SuiteTimes | null> {
  try {
    const recorded = JSON.parse(await readFile(path, 'utf8')) as Omit<SuiteTimes, 'source'>
    return { ...recorded, source: `read from ${path} (written by .ci/run at ${recorded.finishedAt})` }
  } catch {
    return null
  }
}

export async function benchSuite(): Promise<{ goals: GoalRow[]; notes: string[] }> {
  const path = process.env.BENCH_SUITE_FILE ?? SUITE_FILE
  const times = process.env.BENCH_SUITE === '1' ? await runTap() : await readRecorded(path)
  if (!times)
    return {
      goals: [
        {
          figure: 'G8 npm test wall, 2 cores',
          measured: `not measured: no ${path} (run .ci/run, or BENCH_SUITE=1)`,
          baseline: '',
          ratio: '',
          goal: `≤ ${WALL_GOAL_S / 60} min`,
          met: null,
        },
        {
          figure: 'G8 slowest test file',
          measured: 'not measured',
          baseline: '',
          ratio: '',
          goal: `≤ ${FILE_GOAL_S} s`,
          met: null,
        },
      ],
      notes: [],
    }
  const slowest = times.files[0]
  const failed = times.exitStatus !== 0 ? ` (suite exited ${times.exitStatus})` : ''
  return {
    goals: [
      {
        figure: 'G8 npm test wall, 2 cores (1 pass)',
        measured: `${(times.wallSeconds / 60).toFixed(1)} min${failed}`,
        baseline: `goal ${WALL_GOAL_S / 60} min`,
        ratio: (times.wallSeconds / WALL_GOAL_S).toFixed(2),
        goal: `≤ ${WALL_GOAL_S / 60} min`,
        met: times.wallSeconds <= WALL_GOAL_S,
      },
      {
        figure: `G8 slowest test file (of ${times.files.length})`,
        measured: slowest ? `${slowest.seconds.toFixed(1)} s ${slowest.file}` : 'no file times in the output',
        baseline: `goal ${FILE_GOAL_S} s`,
        ratio: slowest ? (slowest.seconds / FILE_GOAL_S).toFixed(2) : '',
        goal: `≤ ${FILE_GOAL_S} s`,
        met: slowest ? slowest.seconds <= FILE_GOAL_S : null,
      },
    ],
    notes: [`G8: ${times.source}; ratio = measured / goal (no baseline exists for a test suite)`],
  }
}

/** `tsx bench/suite.ts record LOG WALL_SECONDS STATUS`: what .ci/run calls after `npm test`. */
export async function record(logPath: string, wallSeconds: number, exitStatus: number): Promise<void> {
  const times: Omit<SuiteTimes, 'source'> = {
    finishedAt: new Date().toISOString(),
    wallSeconds,
    exitStatus,
    files: parseTapFileTimes(await readFile(logPath, 'utf8')),
  }
  await writeFile(process.env.BENCH_SUITE_FILE ?? SUITE_FILE, `${JSON.stringify(times, null, 2)}\n`)
}

if (isMain(import.meta.url)) {
  const [command, logPath, wall, status] = process.argv.slice(2)
  if (command !== 'record' || !logPath)
    throw new Error('usage: tsx bench/suite.ts record LOG WALL_SECONDS STATUS')
  await record(logPath, Number(wall), Number(status))
}
