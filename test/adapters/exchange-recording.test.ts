/** The support recording file: redacted JSON lines, in order, and nothing after its time is up. */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openExchangeRecording } from '../../src/adapters/recording/exchange-file.js'
import type { Exchange } from '../../src/ports/exchange-log.js'

const exchange = (n: number): Exchange => ({
  at: new Date(n).toISOString(),
  service: 'salesforce',
  method: 'POST',
  url: 'https://x.example/services/oauth2/token',
  status: 200,
  durationMs: n,
  requestBody: { client_secret: 'configured-secret-value', n },
  responseBody: { access_token: '00D000000000001!tok.en', note: 'configured-secret-value echoed' },
})

t.test('lines are redacted, in order, and stop when the time is up', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'recording-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  let now = 1_000
  const recording = openExchangeRecording({
    directory: join(dir, 'nested'),
    label: 'test',
    secrets: ['configured-secret-value'],
    forMs: 60_000,
    now: () => now,
  })
  recording.sink(exchange(1))
  now += 30_000
  recording.sink(exchange(2))
  now += 30_000
  recording.sink(exchange(3))
  recording.sink(exchange(4))
  t.equal(recording.lines(), 2, 'nothing is written once forMs has passed')
  await recording.close()
  await recording.close()
  const text = await readFile(recording.path, 'utf8')
  const lines = text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Exchange)
  t.same(
    lines.map((l) => (l.requestBody as { n: number }).n),
    [1, 2],
  )
  t.notOk(text.includes('configured-secret-value'))
  t.notOk(text.includes('tok.en'))
  t.match(lines[0], {
    requestBody: { client_secret: '[redacted]' },
    responseBody: { access_token: '[redacted]' },
  })
  t.equal((await stat(recording.path)).mode & 0o777, 0o600, 'only the owner may read it')
})
