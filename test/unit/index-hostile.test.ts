/**
 * Hostile index files: deeply nested JSON and XML are refused as INDEX_INVALID without a
 * thrown stack overflow, and an index over index.maxBytes is refused while it is read over a
 * real FTP socket (the read stops at the limit instead of buffering the whole file).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import { parseIndexFile } from '../../src/domain/index-file.js'
import { readIndex } from '../../src/flows/inbound/batch-claim.js'
import { startFtpServer } from '../../src/sandbox/ftp-server.js'
import { endpointConfig } from '../support/remote-files-contract.js'

const opts = { fileColumn: 'File' }

t.test('100,000 levels of JSON or XML nesting: INDEX_INVALID, never thrown', async (t) => {
  const depth = 100_000
  const cases: [string, string][] = [
    ['index.json', `${'['.repeat(depth)}${']'.repeat(depth)}`],
    ['index.json', `[{"File":"a.pdf","SKU":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}]`],
    ['index.xml', `<index><file>${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</file></index>`],
  ]
  for (const [name, text] of cases) {
    t.match(parseIndexFile(name, Buffer.from(text), opts), { ok: false, code: 'INDEX_INVALID' }, name)
  }
})

t.test('an index over index.maxBytes is INDEX_INVALID, read over FTP only up to the limit', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'index-hostile-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const rows = Array.from({ length: 200_000 }, (_, i) => `doc-${i}.pdf,SKU-${i}`)
  await writeFile(join(root, 'index.csv'), `File,SKU\n${rows.join('\n')}\n`)
  const server = await startFtpServer({ root, username: 'bob', password: 'pw' })
  t.teardown(server.close)
  const remote = createRemoteFiles(
    endpointConfig({
      protocol: 'ftp',
      host: server.host,
      port: server.port,
      username: 'bob',
      password: 'pw',
    }),
    pino({ level: 'silent' }),
  )
  t.teardown(() => remote.close())
  const config = { names: ['index.csv'], required: true, fileColumn: 'File', maxBytes: 64 * 1024 }
  t.match(await readIndex(remote, '/index.csv', config), {
    ok: false,
    code: 'INDEX_INVALID',
    message: 'index.csv is larger than 65536 bytes (index.maxBytes)',
  })
  const whole = await readIndex(remote, '/index.csv', { ...config, maxBytes: 16 * 1024 * 1024 })
  t.match(whole, { ok: true }, 'the same index within a larger limit is read')
  t.equal(whole.ok && whole.rows.length, 200_000)
})
