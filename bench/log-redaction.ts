/**
 * The cost of log redaction per line: the access log's line (the hot path,
 * one per request) and a nested object, through the walker of
 * src/logging/redact.ts against pino's fixed-path `redact` it replaced
 * (16 keys × 4 depths) and against no redaction at all, into a sink that discards.
 *
 *   npx tsx bench/log-redaction.ts          # 200,000 lines each
 *   BENCH_LINES=50000 npx tsx bench/log-redaction.ts
 */
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { createLogger } from '../src/logging/logger.js'
import { REDACTED_KEYS, redactUrlQuery } from '../src/logging/redact.js'

const lines = Number(process.env.BENCH_LINES ?? 200_000)
const sink = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb()
    },
  })
const fixedPaths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`])
const loggers = {
  'pino redact paths (before)': pino({ redact: { paths: fixedPaths, censor: '[redacted]' } }, sink()),
  'walker (now)': createLogger({ destination: sink() }),
  'pino, no redaction': pino(sink()),
}
const accessLine = (i: number) => ({
  method: 'GET',
  url: redactUrlQuery(`/v1/runs?limit=${i % 50}`),
  statusCode: 200,
  responseTime: 1.2,
})
const nested = (i: number) => ({
  run: { id: `run_${i}`, flow: 'f', item: { name: 'a.pdf', attempt: { n: 1 } } },
})

function perLineMicros(log: (i: number) => void): number {
  for (let i = 0; i < 10_000; i++) log(i)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < lines; i++) log(i)
  return Number(process.hrtime.bigint() - t0) / 1000 / lines
}

for (const [name, logger] of Object.entries(loggers)) {
  const access = perLineMicros((i) => logger.info(accessLine(i), 'request completed'))
  const deep = perLineMicros((i) => logger.info(nested(i), 'item'))
  process.stdout.write(
    `${name.padEnd(28)} access line ${access.toFixed(2)} µs/line   nested object ${deep.toFixed(2)} µs/line\n`,
  )
}
