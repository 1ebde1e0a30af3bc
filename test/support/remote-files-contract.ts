/**
 * The RemoteFiles contract: one set of cases that every adapter + server
 * pair must pass. The caller supplies how to start a server over a local
 * directory and how to build the adapter for it.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { Test } from 'tap'
import type { EndpointConfig } from '../../src/config/schema.js'
import { BridgeError } from '../../src/domain/errors.js'
import type { RemoteFiles } from '../../src/ports/remote-files.js'

export interface ContractServer {
  /** What the adapter under test talks to, for the given endpoint overrides. */
  remote(overrides?: Partial<EndpointConfig>): RemoteFiles
  faults?: { dropAfterBytes(bytes: number): void; stall(count: number): void }
  maxConcurrentConnections?(): number
  close(): Promise<void>
}

export interface ContractTarget {
  name: string
  /** How far a listed mtime may be below the real one (LIST shows minutes). */
  mtimePrecisionMs: number
  /** Where the served directories are made; default the OS temp dir. */
  rootParent?: string
  /** Starts a server that serves `root`. */
  start(root: string): Promise<ContractServer>
}

export function endpointConfig(
  fields: Partial<EndpointConfig> & Pick<EndpointConfig, 'protocol' | 'host' | 'username'>,
): EndpointConfig {
  return {
    name: 'contract',
    insecureSkipHostKeyCheck: false,
    tls: { rejectUnauthorized: true },
    maxConnections: 2,
    connectTimeoutMs: 5000,
    operationTimeoutMs: 5000,
    keepaliveIntervalMs: 10_000,
    idleCloseMs: 30_000,
    fileNameEncoding: 'utf8',
    supportsRename: true,
    resume: { enabled: true, maxPerAttempt: 32, baseDelayMs: 250, maxDelayMs: 10_000 },
    ...fields,
  }
}

/** The endpoint for an in-process SFTP sandbox server with the user alice / pw, its host key pinned. */
export function sandboxSftpEndpoint(
  server: { host: string; port: number; hostKeySha256: string },
  overrides: Partial<EndpointConfig> = {},
): EndpointConfig {
  return endpointConfig({
    protocol: 'sftp',
    host: server.host,
    port: server.port,
    username: 'alice',
    password: 'pw',
    hostKeySha256: server.hostKeySha256,
    ...overrides,
  })
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** Resolves with the BridgeError code `work` rejects with. */
export async function failureCode(work: Promise<unknown>): Promise<string> {
  try {
    await work
  } catch (error) {
    return error instanceof BridgeError ? error.code : `not a BridgeError: ${String(error)}`
  }
  return 'resolved'
}

interface Fixture {
  root: string
  server: ContractServer
  remote(overrides?: Partial<EndpointConfig>): RemoteFiles
}

async function setUp(t: Test, target: ContractTarget): Promise<Fixture> {
  const root = await mkdtemp(join(target.rootParent ?? tmpdir(), 'remote-contract-'))
  const server = await target.start(root)
  const remotes: RemoteFiles[] = []
  t.teardown(async () => {
    await Promise.all(remotes.map((remote) => remote.close()))
    await server.close()
    await rm(root, { recursive: true, force: true })
  })
  return {
    root,
    server,
    remote(overrides) {
      const remote = server.remote(overrides)
      remotes.push(remote)
      return remote
    },
  }
}

/**
 * The operation deadline of the stall cases. It is also what the FTP client allows each command
 * (connect and login included) and the in-process server answers on the test's own event loop:
 * at 400 ms a loaded machine could time out the set-up list or the reconnect instead of the stall.
 */
const STALL_DEADLINE_MS = 2000

const strangeNames = ['with space.txt', 'ünïcødé-名前.txt', `quote's "double".txt`, 'hash#1 100%.txt']

export function runRemoteFilesContract(t: Test, target: ContractTarget): void {
  t.test('list returns one level with types, sizes and mtimes', async (t) => {
    const { root, remote } = await setUp(t, target)
    await mkdir(join(root, 'in', 'sub', 'deeper'), { recursive: true })
    await writeFile(join(root, 'in', 'a.txt'), 'hello')
    await writeFile(join(root, 'in', 'b.bin'), randomBytes(1234))
    const mtime = Math.floor((Date.now() - 3 * 86_400_000) / 1000) * 1000 + 0
    await utimes(join(root, 'in', 'a.txt'), mtime / 1000, mtime / 1000)

    const entries = (await remote().list('/in')).sort((x, y) => x.name.localeCompare(y.name))
    t.same(
      entries.map(({ path, name, type, size }) => ({
        path,
        name,
        type,
        ...(type === 'file' ? { size } : {}),
      })),
      [
        { path: '/in/a.txt', name: 'a.txt', type: 'file', size: 5 },
        { path: '/in/b.bin', name: 'b.bin', type: 'file', size: 1234 },
        { path: '/in/sub', name: 'sub', type: 'directory' },
      ],
    )
    const listed = entries[0]!.modifiedAt
    t.ok(
      listed <= mtime && mtime - listed < target.mtimePrecisionMs,
      `mtime ${new Date(listed).toISOString()} within ${target.mtimePrecisionMs} ms below ${new Date(mtime).toISOString()}`,
    )
    t.same(await remote().list('/in/sub/deeper'), [], 'an empty directory lists as empty')
  })

  t.test('list of a missing directory is REMOTE_NOT_FOUND', async (t) => {
    const { remote } = await setUp(t, target)
    t.equal(await failureCode(remote().list('/nope')), 'REMOTE_NOT_FOUND')
  })

  t.test('stat: file, directory, missing', async (t) => {
    const { root, remote } = await setUp(t, target)
    await mkdir(join(root, 'dir'))
    await writeFile(join(root, 'dir', 'f.txt'), '12345678')
    const files = remote()
    t.match(await files.stat('/dir/f.txt'), { path: '/dir/f.txt', name: 'f.txt', type: 'file', size: 8 })
    t.match(await files.stat('/dir'), { path: '/dir', name: 'dir', type: 'directory' })
    t.equal(await files.stat('/dir/missing.txt'), null)
    t.equal(await files.stat('/missing-dir/f.txt'), null)
    const timed = await files.stat('/dir/f.txt')
    t.ok((timed?.modifiedAt ?? 0) > 0, 'a stat tells the modification time')
    t.match(
      await files.stat('/dir/f.txt', { modifiedAt: false }),
      { type: 'file', size: 8 },
      'a stat without the time still tells type and size',
    )
    t.equal(await files.stat('/dir/missing.txt', { modifiedAt: false }), null)
  })

  t.test('read streams the exact bytes of a multi-MB file', async (t) => {
    const { root, remote } = await setUp(t, target)
    const data = randomBytes(5 * 1024 * 1024 + 123)
    await writeFile(join(root, 'big.bin'), data)
    let chunks = 0
    const digest = await remote().read('/big.bin', async (stream) => {
      const hash = createHash('sha256')
      for await (const chunk of stream) {
        chunks++
        hash.update(chunk as Buffer)
      }
      return hash.digest('hex')
    })
    t.equal(digest, sha256(data))
    t.ok(chunks > 1, `arrived in ${chunks} chunks, not one buffer`)
    t.equal(await remote().read('/big.bin', async (stream) => (await collect(stream)).length), data.length)
  })

  t.test('read of a missing file is REMOTE_NOT_FOUND', async (t) => {
    const { remote } = await setUp(t, target)
    t.equal(await failureCode(remote().read('/missing.bin', collect)), 'REMOTE_NOT_FOUND')
  })

  t.test('write then read back; write overwrites', async (t) => {
    const { root, remote } = await setUp(t, target)
    const files = remote()
    const data = randomBytes(3 * 1024 * 1024 + 7)
    const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) =>
      data.subarray(i * 65536, (i + 1) * 65536),
    )
    t.same(await files.write('/up.bin', Readable.from(chunks)), { bytes: data.length })
    t.equal(sha256(await readFile(join(root, 'up.bin'))), sha256(data))
    t.equal(sha256(await files.read('/up.bin', collect)), sha256(data))

    t.same(await files.write('/up.bin', Readable.from([Buffer.from('short')])), { bytes: 5 })
    t.equal(await readFile(join(root, 'up.bin'), 'utf8'), 'short')
    t.same(await files.write('/empty.bin', Readable.from([])), { bytes: 0 })
    t.equal((await stat(join(root, 'empty.bin'))).size, 0)
    t.equal((await files.read('/empty.bin', collect)).length, 0)
  })

  t.test('read and write at an offset: a transfer continues where it stopped', async (t) => {
    const { root, remote } = await setUp(t, target)
    const files = remote()
    const data = randomBytes(2 * 1024 * 1024 + 333)
    await writeFile(join(root, 'src.bin'), data)
    const offset = 1024 * 1024 + 17
    const tail = await files.read('/src.bin', collect, { offset })
    t.equal(sha256(tail), sha256(data.subarray(offset)), 'the read starts at the offset')

    await writeFile(join(root, 'part.bin'), data.subarray(0, offset))
    t.same(await files.write('/part.bin', Readable.from([data.subarray(offset)]), { offset }), {
      bytes: data.length - offset,
    })
    t.equal(
      sha256(await readFile(join(root, 'part.bin'))),
      sha256(data),
      'the write kept the bytes before it',
    )
  })

  t.test('rename moves a file', async (t) => {
    const { root, remote } = await setUp(t, target)
    await mkdir(join(root, 'processed'))
    await writeFile(join(root, 'a.txt'), 'content')
    await remote().rename('/a.txt', '/processed/b.txt')
    t.equal(await readFile(join(root, 'processed', 'b.txt'), 'utf8'), 'content')
    t.rejects(stat(join(root, 'a.txt')), { code: 'ENOENT' })
    t.equal(await failureCode(remote().rename('/a.txt', '/c.txt')), 'REMOTE_NOT_FOUND')
  })

  t.test('rename onto an existing file: FILE_EXISTS, or replaced with overwrite', async (t) => {
    const { root, remote } = await setUp(t, target)
    const files = remote()
    await mkdir(join(root, 'out'))
    await writeFile(join(root, 'out', 'new.txt'), 'new content')
    await writeFile(join(root, 'out', 'final.txt'), 'old')

    const refused = await files.rename('/out/new.txt', '/out/final.txt').catch((error: unknown) => error)
    t.match(refused, { code: 'FILE_EXISTS', transient: false }, 'refused without overwrite')
    t.equal(await readFile(join(root, 'out', 'final.txt'), 'utf8'), 'old', 'the target is untouched')
    t.equal(await readFile(join(root, 'out', 'new.txt'), 'utf8'), 'new content', 'the source stays')

    await files.rename('/out/new.txt', '/out/final.txt', { overwrite: true })
    t.equal(await readFile(join(root, 'out', 'final.txt'), 'utf8'), 'new content', 'replaced')
    await t.rejects(stat(join(root, 'out', 'new.txt')), { code: 'ENOENT' }, 'the source is gone')
    t.same(
      (await files.list('/out')).map((entry) => entry.name),
      ['final.txt'],
      'one file under the final name',
    )

    await files.rename('/out/final.txt', '/out/moved.txt', { overwrite: true })
    t.equal(await readFile(join(root, 'out', 'moved.txt'), 'utf8'), 'new content', 'no target to replace')

    t.equal(
      await failureCode(files.rename('/out/missing.txt', '/out/moved.txt', { overwrite: true })),
      'REMOTE_NOT_FOUND',
      'a missing source with overwrite',
    )
    t.equal(
      await readFile(join(root, 'out', 'moved.txt'), 'utf8'),
      'new content',
      'a failed overwrite leaves the target',
    )
    t.equal(
      await failureCode(files.rename('/out/missing.txt', '/out/other.txt')),
      'REMOTE_NOT_FOUND',
      'a missing source without overwrite',
    )

    const data = randomBytes(2 * 1024 * 1024 + 11)
    await files.write('/out/big.tmp', Readable.from([data]))
    await files.rename('/out/big.tmp', '/out/moved.txt', { overwrite: true })
    t.equal(sha256(await files.read('/out/moved.txt', collect)), sha256(data), 'a large file replaces')
  })

  t.test('rename on an endpoint without rename support is refused', async (t) => {
    const { root, remote } = await setUp(t, target)
    await writeFile(join(root, 'a.txt'), 'x')
    const files = remote({ supportsRename: false })
    t.equal(await failureCode(files.rename('/a.txt', '/b.txt')), 'REMOTE_PERMISSION_DENIED')
    t.equal(
      await failureCode(files.rename('/a.txt', '/b.txt', { overwrite: true })),
      'REMOTE_PERMISSION_DENIED',
    )
    t.equal(await readFile(join(root, 'a.txt'), 'utf8'), 'x')
  })

  t.test('delete removes a file; a missing one is REMOTE_NOT_FOUND', async (t) => {
    const { root, remote } = await setUp(t, target)
    await writeFile(join(root, 'gone.txt'), 'x')
    const files = remote()
    await files.delete('/gone.txt')
    await t.rejects(stat(join(root, 'gone.txt')), { code: 'ENOENT' })
    t.equal(await failureCode(files.delete('/gone.txt')), 'REMOTE_NOT_FOUND')
  })

  t.test('mkdirp creates nested directories and accepts existing ones', async (t) => {
    const { root, remote } = await setUp(t, target)
    const files = remote()
    await files.mkdirp('/x/y/z')
    t.ok((await stat(join(root, 'x', 'y', 'z'))).isDirectory())
    await files.mkdirp('/x/y/z')
    await files.mkdirp('/x')
    await files.mkdirp('/')
    await files.mkdirp('/x/y/w')
    t.ok((await stat(join(root, 'x', 'y', 'w'))).isDirectory())
    await writeFile(join(root, 'file'), 'x')
    t.not(await failureCode(files.mkdirp('/file/sub')), 'resolved', 'a file in the way fails')
  })

  t.test('names with spaces, unicode, quotes, # and %', async (t) => {
    const { root, remote } = await setUp(t, target)
    const files = remote()
    await mkdir(join(root, 'odd dir #1'))
    for (const name of strangeNames) await writeFile(join(root, 'odd dir #1', name), name)
    const listed = (await files.list('/odd dir #1')).map((entry) => entry.name).sort()
    t.same(listed, [...strangeNames].sort())
    for (const name of strangeNames) {
      const path = `/odd dir #1/${name}`
      t.equal((await files.read(path, collect)).toString(), name, `read ${name}`)
      t.match(await files.stat(path), { name, size: Buffer.byteLength(name) }, `stat ${name}`)
      await files.write(`${path}.copy`, Readable.from([Buffer.from('copy')]))
      await files.rename(`${path}.copy`, `${path}.moved`)
      t.equal(
        await readFile(join(root, 'odd dir #1', `${name}.moved`), 'utf8'),
        'copy',
        `write+rename ${name}`,
      )
      await files.delete(`${path}.moved`)
    }
    await files.mkdirp('/odd dir #1/new ünï 100%')
    t.ok((await stat(join(root, 'odd dir #1', 'new ünï 100%'))).isDirectory())
  })

  t.test('maxConnections is respected under concurrent reads', async (t) => {
    const { root, server, remote } = await setUp(t, target)
    const data = randomBytes(1024 * 1024)
    await writeFile(join(root, 'shared.bin'), data)
    const files = remote({ maxConnections: 2 })
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        files.read('/shared.bin', async (stream) => sha256(await collect(stream))),
      ),
    )
    t.same(results, Array(6).fill(sha256(data)))
    if (server.maxConcurrentConnections) {
      const peak = server.maxConcurrentConnections()
      t.ok(peak >= 1 && peak <= 2, `server saw at most 2 concurrent connections (saw ${peak})`)
    } else {
      t.comment('server cannot count connections; only the results were checked')
    }
  })

  t.test(
    'a connection dropped mid-transfer fails that op with CONNECTION_LOST; the next op succeeds',
    async (t) => {
      const { root, server, remote } = await setUp(t, target)
      if (!server.faults) return t.comment(`${target.name}: no fault injection, case not run`)
      const data = randomBytes(4 * 1024 * 1024)
      await writeFile(join(root, 'drop.bin'), data)
      const files = remote({ maxConnections: 1 })
      t.equal((await files.list('/')).length, 1, 'a warm pooled connection')
      server.faults.dropAfterBytes(1024 * 1024)
      t.equal(await failureCode(files.read('/drop.bin', collect)), 'CONNECTION_LOST')
      t.equal(sha256(await files.read('/drop.bin', collect)), sha256(data), 'the next read reconnects')

      server.faults.dropAfterBytes(512 * 1024)
      t.equal(
        await failureCode(files.write('/up.bin', Readable.from([data]))),
        'CONNECTION_LOST',
        'upload too',
      )
      t.same(await files.write('/up.bin', Readable.from([data])), { bytes: data.length })
    },
  )

  t.test('an aborted signal fails with CANCELLED', async (t) => {
    const { root, remote } = await setUp(t, target)
    await writeFile(join(root, 'big.bin'), randomBytes(4 * 1024 * 1024))
    const files = remote()
    t.equal(
      await failureCode(files.list('/', { signal: AbortSignal.abort() })),
      'CANCELLED',
      'before it starts',
    )

    const controller = new AbortController()
    const reading = files.read(
      '/big.bin',
      async (stream) => {
        for await (const _ of stream) controller.abort()
      },
      { signal: controller.signal },
    )
    t.equal(await failureCode(reading), 'CANCELLED', 'mid-transfer')
    t.equal((await files.list('/')).length, 1, 'the endpoint stays usable')
  })

  t.test('a stalled server fails with TIMEOUT within the deadline', async (t) => {
    const { root, server, remote } = await setUp(t, target)
    if (!server.faults) return t.comment(`${target.name}: no fault injection, case not run`)
    await writeFile(join(root, 'f.txt'), 'x')
    const files = remote({ operationTimeoutMs: STALL_DEADLINE_MS, maxConnections: 1 })
    t.equal((await files.list('/')).length, 1)
    server.faults.stall(1)
    const started = Date.now()
    t.equal(await failureCode(files.list('/')), 'TIMEOUT')
    const elapsed = Date.now() - started
    // Not before the deadline; an upper bound well short of a hang, with room for a loaded machine.
    t.ok(
      elapsed >= STALL_DEADLINE_MS - 50 && elapsed < 5 * STALL_DEADLINE_MS,
      `timed out after ${elapsed} ms (deadline ${STALL_DEADLINE_MS} ms)`,
    )
    t.equal((await files.list('/')).length, 1, 'the next op reconnects')
  })

  t.test('a transfer that stops making progress fails with TIMEOUT', async (t) => {
    const { root, server, remote } = await setUp(t, target)
    if (!server.faults) return t.comment(`${target.name}: no fault injection, case not run`)
    // Large enough that socket buffers cannot hold the rest once the server freezes.
    const size = 24 * 1024 * 1024
    await writeFile(join(root, 'big.bin'), randomBytes(size))
    const files = remote({ operationTimeoutMs: STALL_DEADLINE_MS, maxConnections: 1 })
    const started = Date.now()
    let received = 0
    const reading = files.read('/big.bin', async (stream) => {
      for await (const chunk of stream) {
        // The first chunk is in; everything after it is never answered.
        if (received === 0) server.faults?.stall(1_000_000)
        received += (chunk as Buffer).length
      }
    })
    t.equal(await failureCode(reading), 'TIMEOUT')
    server.faults.stall(0)
    const elapsed = Date.now() - started
    // Connecting, the first chunk, then the deadline without progress: bounded well short of a hang.
    t.ok(
      elapsed < 5 * STALL_DEADLINE_MS,
      `gave up after ${elapsed} ms without progress (deadline ${STALL_DEADLINE_MS} ms)`,
    )
    t.ok(received < size, `stopped part-way (${received} bytes)`)
  })

  t.test('close is idempotent and waits for checked-out work', async (t) => {
    const { root, remote } = await setUp(t, target)
    await writeFile(join(root, 'f.txt'), 'payload')
    const files = remote()
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let consumerStarted: () => void = () => {}
    const started = new Promise<void>((resolve) => {
      consumerStarted = resolve
    })
    const reading = files.read('/f.txt', async (stream) => {
      consumerStarted()
      const body = await collect(stream)
      await gate
      return body.toString()
    })
    await started
    let closed = false
    const closing = files.close().then(() => {
      closed = true
    })
    t.equal(await Promise.race([closing.then(() => 'closed'), Promise.resolve('pending')]), 'pending')
    t.notOk(closed, 'close waits for the reader')
    release()
    t.equal(await reading, 'payload')
    await closing
    await files.close()
    t.equal(await failureCode(files.list('/')), 'CANCELLED', 'a closed endpoint refuses work')
  })
}
