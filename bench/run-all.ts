/**
 * `npm run bench`: every figure of issue 6 in one table (figure, measured,
 * baseline measured in the same run, ratio), then the notes on what served
 * what. About 9 minutes on 2 cores. Each part also runs alone:
 *   npm run bench:throughput   figures 1, 2, 3, 4, 6
 *   npm run bench:http         figure 5
 *   npm run bench:memory       the inbound-memory bench alone (1 GiB SFTP, in-process server)
 *   npm run bench:api-calls    the inbound API-call count alone
 *   npm run bench:retention    R1–R4: the store over a simulated year, with and without retention
 *   npm run bench:repeat       CPU per GiB of the same large file moved five times in one process
 *   npm run bench:rest         7: RSS of the compiled service at rest, one flow per kind, against bare Fastify
 *   npm run bench:pgp          PGP encrypt/decrypt throughput against gpg and peak RSS growth (BENCH_PGP_MIB, default 2048)
 * The environment variables of bench/throughput.ts and bench/http.ts apply.
 */
import { cpus, totalmem } from 'node:os'
import { benchHttp } from './http.js'
import { log, MB, printTable, type Row, seconds } from './lib.js'
import { benchPgp } from './pgp.js'
import { benchRepeatTransfer, defaultRepeatOptions } from './repeat-transfer.js'
import { benchRestRss } from './rest-rss.js'
import { benchRetention } from './retention.js'
import { benchThroughput, defaultThroughputOptions } from './throughput.js'

const t0 = process.hrtime.bigint()
const { options, notes: pre } = defaultThroughputOptions()
log(`throughput: ${options.files} files × ${options.reps} reps, large ${JSON.stringify(options.bigMb)} MiB`)
const tp = await benchThroughput(options)
log(`throughput done after ${seconds(t0).toFixed(0)} s`)
const httpSeconds = Number(process.env.BENCH_HTTP_SECONDS ?? 20)
const http = await benchHttp(httpSeconds)
const retention = await benchRetention()
const repeat = await benchRepeatTransfer(defaultRepeatOptions())
const rest = await benchRestRss()
const pgp = await benchPgp()
const rows: Row[] = [
  ...tp.rows,
  ...http.rows,
  ...retention.rows,
  ...repeat.rows,
  ...rest.rows,
  ...pgp.rows,
].sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true }))
printTable(rows)
const notes = [
  ...pre,
  ...tp.notes,
  ...http.notes,
  ...retention.notes,
  ...pgp.notes,
  ...repeat.notes,
  ...rest.notes,
  `medians of ${options.reps} repetitions for 1a/2a/4 (and 6 at c=${options.concurrency}, which is 1a); the large-file, RSS, c=1/c=2 and HTTP figures are one pass each`,
  'ratio = baseline time / service time for throughput (higher is better), calls / naive for 4, peak / resting RSS for 3, service req/s / bare req/s for 5',
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / MB / 1024).toFixed(0)} GiB RAM, Node ${process.version}`,
]
for (const n of notes) process.stdout.write(`- ${n}\n`)
process.stdout.write(`total ${seconds(t0).toFixed(0)} s\n`)
