/**
 * disposeSucceeded over a real socket (the in-process SFTP server): what
 * `after.success` does to the partner's file, and that a delete answered
 * "not found" counts as done only when the file really is gone.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import type { SourceFlow } from '../../src/config/schema.js'
import { BridgeError } from '../../src/domain/errors.js'
import { disposeSucceeded } from '../../src/flows/inbound/dispose.js'
import type { RemoteFiles } from '../../src/ports/remote-files.js'
import type { ItemRecord } from '../../src/ports/store.js'
import { startSftpServer } from '../../src/sandbox/sftp-server.js'
import { sandboxSftpEndpoint } from '../support/remote-files-contract.js'

async function setup(t: Test): Promise<{ root: string; remote: RemoteFiles }> {
  const root = await mkdtemp(join(tmpdir(), 'disposal-'))
  const server = await startSftpServer({ root, users: [{ username: 'alice', password: 'pw' }] })
  const remote = createRemoteFiles(sandboxSftpEndpoint(server), pino({ level: 'silent' }))
  t.teardown(async () => {
    await remote.close()
    await server.close()
    await rm(root, { recursive: true, force: true })
  })
  await mkdir(join(root, 'in'))
  return { root, remote }
}

function flowWith(after: SourceFlow['after']): SourceFlow {
  return {
    name: 'disposal',
    source: { endpoint: 'contract', directory: '/in', include: ['**'], exclude: [], recursive: false },
    readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 0 },
    after,
    retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100 },
    maxFilesPerRun: 100,
  } as SourceFlow
}

function item(name: string): ItemRecord {
  const at = new Date(0).toISOString()
  return {
    id: `itm_${name}`,
    runId: 'run_1',
    flow: 'disposal',
    endpoint: 'contract',
    path: `/in/${name}`,
    name,
    size: 4,
    modifiedAt: 0,
    ledgerKey: `contract/in/${name}`,
    state: 'finalizing',
    attempts: 1,
    nextAttemptAt: null,
    target: null,
    wipFileId: null,
    sdriveFileId: 'a0X1',
    sha256: null,
    bytesTransferred: 4,
    bytesMoved: 4,
    resumes: 0,
    finalPath: null,
    error: null,
    detail: null,
    createdAt: at,
    updatedAt: at,
  }
}

t.test('delete removes the file, and a file already gone counts as deleted', async (t) => {
  const { root, remote } = await setup(t)
  await writeFile(join(root, 'in', 'a.pdf'), 'data')
  const flow = flowWith({ success: 'delete', errorDirectory: '/errors' })
  t.same(await disposeSucceeded(remote, flow, item('a.pdf')), { finalPath: null })
  t.same(await readdir(join(root, 'in')), [], 'deleted')
  t.same(
    await disposeSucceeded(remote, flow, item('a.pdf')),
    { finalPath: null },
    'a second attempt (after a crash) finds it gone and succeeds',
  )
})

t.test('a delete answered "not found" while the file is still there fails', async (t) => {
  const { root, remote } = await setup(t)
  await writeFile(join(root, 'in', 'b.pdf'), 'data')
  // An FTP server answers 550 to a refused delete as to a missing file; the stat tells them apart.
  const refusing: RemoteFiles = Object.assign(Object.create(remote) as RemoteFiles, {
    delete: async () => {
      throw new BridgeError('REMOTE_NOT_FOUND', '550 Delete operation failed')
    },
  })
  const flow = flowWith({ success: 'delete', errorDirectory: '/errors' })
  await t.rejects(disposeSucceeded(refusing, flow, item('b.pdf')), { code: 'REMOTE_NOT_FOUND' })
  t.same(await readdir(join(root, 'in')), ['b.pdf'], 'the file is still there and was not reported gone')
})

t.test('move takes a free name in the processed folder; keep leaves the file', async (t) => {
  const { root, remote } = await setup(t)
  await writeFile(join(root, 'in', 'c.pdf'), 'new!')
  await mkdir(join(root, 'done'))
  await writeFile(join(root, 'done', 'c.pdf'), 'old!')
  const moved = await disposeSucceeded(
    remote,
    flowWith({ success: 'move', processedDirectory: '/done', errorDirectory: '/errors' }),
    item('c.pdf'),
  )
  t.match(moved.finalPath, /^\/done\/c.*\.pdf$/)
  t.not(moved.finalPath, '/done/c.pdf', 'the name taken before is not overwritten')
  t.equal((await readdir(join(root, 'done'))).length, 2)

  await writeFile(join(root, 'in', 'd.pdf'), 'data')
  const kept = await disposeSucceeded(
    remote,
    flowWith({ success: 'keep', errorDirectory: '/errors' }),
    item('d.pdf'),
  )
  t.same(kept, { finalPath: null })
  t.same(await readdir(join(root, 'in')), ['d.pdf'], 'kept in place')
})
