/**
 * `npm run bench`: issue 17's goal table, every figure the median of BENCH_REPS (3) passes with
 * its min and max, beside a baseline measured in the same run, their ratio, the goal and whether
 * it is met; then the extra figures kept from issue 6 (3, 4, 6) and the per-pass CPU figures.
 * The service runs compiled (`npm run build` once, then node dist/src/server.js) with
 * NODE_ENV=production and LOG_LEVEL=info. Exits 1 if a part crashes or a figure is missing;
 * an unmet goal is a finding, not a failure.
 *
 *   npm run bench                       # the full table (see BENCHMARKS.md for its duration)
 *   BENCH_SCALE=0.02 npm run bench      # a smoke run of every figure in a few minutes
 *
 * Parts alone: npm run bench:throughput (G1, G2, 3, 4, 6), bench:batch (G3), bench:rest (G4),
 * bench:repeat (G5), bench:accept (G6, G7); G8 comes from .ci/run (bench/suite.ts).
 * bench:pgp (PGP against gpg, issue 15) runs last, as an extra figure.
 * Issue 6's HTTP figures (bench:http) and the retention bench (bench:retention) run alone.
 */
import { cpus, loadavg, totalmem } from 'node:os'
import { benchAcceptPath } from './accept-path.js'
import { benchBatch } from './batch.js'
import { type GoalRow, missingFigures, printGoalTable } from './goals.js'
import { benchReps, benchScale, log, MB, printTable, type Row, scaled, seconds, serviceEntry } from './lib.js'
import { benchPgp } from './pgp.js'
import { benchRepeatTransfer, defaultRepeatOptions } from './repeat-transfer.js'
import { benchRestRss } from './rest-rss.js'
import { benchSuite } from './suite.js'
import { benchThroughput, defaultThroughputOptions } from './throughput.js'

const t0 = process.hrtime.bigint()
const loads: number[] = []
const sampleLoad = () => loads.push(loadavg()[0] as number)
const goals: GoalRow[] = []
const extras: Row[] = []
const notes: string[] = []
const part = async (
  name: string,
  run: () => Promise<{ goals: GoalRow[]; rows?: Row[]; notes: string[] }>,
) => {
  sampleLoad()
  const started = process.hrtime.bigint()
  const result = await run()
  goals.push(...result.goals)
  extras.push(...(result.rows ?? []))
  notes.push(...result.notes)
  sampleLoad()
  log(`${name} done in ${seconds(started).toFixed(0)} s`)
}

const { options, notes: pre } = defaultThroughputOptions()
notes.push(...pre, `service: ${(await serviceEntry()).label}, LOG_LEVEL=info`)
log(
  `scale ${benchScale()}, ${options.reps} passes per figure; G1 ${options.files} files, G2 ${JSON.stringify(options.bigMb)} MiB`,
)
await part('G1, G2 (throughput)', async () => {
  const r = await benchThroughput(options)
  return { goals: r.goals, rows: r.extras, notes: r.notes }
})
await part('G3 (batch)', () => benchBatch())
await part('G4 (rest)', () => benchRestRss())
await part('G5 (repeat)', () => benchRepeatTransfer(defaultRepeatOptions()))
await part('G6, G7 (accept path)', () => benchAcceptPath())
await part('G8 (suite)', () => benchSuite())
// 2 GiB at full scale (BENCH_PGP_MIB overrides), scaled down with everything else in a smoke run.
const pgpMib = Number(process.env.BENCH_PGP_MIB ?? scaled(2048, 4))
await part('PGP (issue 15)', async () => ({ goals: [], ...(await benchPgp(pgpMib)) }))

const order = (g: GoalRow) => g.figure.slice(0, 2)
printGoalTable(goals.sort((a, b) => order(a).localeCompare(order(b))))
process.stdout.write('\nExtra figures (issue 6 figures 3, 4, 6; G5 per pass):\n')
printTable(extras)
notes.push(
  `every figure: median of ${benchReps()} passes (min–max beside it) unless its label says otherwise; BENCH_SCALE=${benchScale()}`,
  'ratio = baseline time / service time for throughput (higher is better); see each part for the others',
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / MB / 1024).toFixed(0)} GiB RAM, Node ${process.version}; load average (1 min) ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} between parts`,
)
for (const n of notes) process.stdout.write(`- ${n}\n`)
process.stdout.write(`total ${seconds(t0).toFixed(0)} s\n`)
const missing = missingFigures(goals)
if (missing.length > 0) {
  process.stderr.write(`bench: figures missing from the table: ${missing.join(', ')}\n`)
  process.exitCode = 1
}
