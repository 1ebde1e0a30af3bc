/**
 * `npm run bench` at a tiny scale: every figure of issue 17's goal table is measured and printed
 * (a row per figure with a measured median and min–max, a baseline, a ratio, a goal and whether it
 * is met), and a part that crashes fails this test. The figures themselves are meaningless at this
 * scale; the full run is documented in BENCHMARKS.md. The service runs as tap's before script
 * compiled it (.tap/service), so the bench does not build dist/ again.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { GOAL_FIGURES } from '../../bench/goals.js'
import { record } from '../../bench/suite.js'
import { childEnv, repoRoot, SERVICE_BUILD_DIR } from '../support/service-build.js'

// Five service starts and ~10 helper processes: minutes, not seconds, when 8 suites share 2 cores.
t.setTimeout(600_000)

t.test('the bench prints every figure of the goal table at a tiny scale', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-smoke-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // G8 reads what .ci/run records after `npm test`: record a suite's output the same way.
  const log = join(dir, 'tap.log')
  await writeFile(log, 'ok 1 - test/a.test.ts # time=1500.5ms\nnot ok 2 - test/b.test.ts # time=61234ms\n')
  const suiteFile = join(dir, 'suite-times.json')
  process.env.BENCH_SUITE_FILE = suiteFile
  await record(log, 400, 0)
  delete process.env.BENCH_SUITE_FILE

  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run-all.ts'], {
    cwd: repoRoot,
    env: childEnv({
      BENCH_SCALE: '0.005',
      BENCH_REPS: '1',
      BENCH_NO_BUILD: '1',
      BENCH_DIST: SERVICE_BUILD_DIR,
      BENCH_HTTP_SECONDS: '1',
      BENCH_SWEEP: '0',
      BENCH_REST_SETTLE_MS: '100',
      BENCH_REPEAT_PASSES: '2',
      BENCH_SUITE_FILE: suiteFile,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  t.equal(code, 0, `the bench exits 0\n${err.slice(-3000)}`)
  const rows = out.split('\n').filter((line) => line.startsWith('| G'))
  for (const label of GOAL_FIGURES) {
    const row = rows.find((r) => r.startsWith(`| ${label}`))
    t.ok(row, `a row for ${label}`)
    const cells = (row ?? '').split('|').map((c) => c.trim())
    // | figure | measured | baseline | ratio | goal | met |
    t.match(cells[2], /\d/, `${label}: a measured figure`)
    t.match(cells[4], /\d/, `${label}: a ratio`)
    t.match(cells[6], /^(yes|NO)$/, `${label}: whether the goal is met`)
  }
  // Figure 7: the CPU each transfer figure cost the whole machine and the mover, both sides.
  for (const label of GOAL_FIGURES.filter((l) => /^G[12] /.test(l))) {
    const unit = label.startsWith('G1') ? 'file' : 'GiB'
    const row = out.split('\n').find((line) => line.startsWith(`| 7 CPU per ${unit}, ${label} `))
    t.match(
      row,
      /\| [\d.]+ m?s \(service [\d.]+ m?s\), [\d.]+ of \d+ cores busy +\| [\d.]+ m?s \(raw client [\d.]+ m?s\), [\d.]+ of \d+ cores busy +\| [\d.]+ +\|/,
      `figure 7 for ${label}: the machine's and the mover's CPU, service and raw client`,
    )
  }
  const medianWithSpread = /\d+(\.\d+)?( [^ ]+)? \(\d+(\.\d+)?–\d+(\.\d+)?\)/
  for (const r of rows.filter((r) => !r.startsWith('| G8')))
    t.match(r.split('|')[2], medianWithSpread, `median (min–max) in ${r.split('|')[1]?.trim()}`)
  t.match(
    out,
    /G8 slowest test file \(of 2\)\s+\| 61\.2 s test\/b\.test\.ts/,
    'G8 read from the recorded suite',
  )
})
