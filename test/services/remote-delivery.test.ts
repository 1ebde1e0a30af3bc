/**
 * deliverFile / writeTextFile over real sockets against the in-process SFTP,
 * FTP and explicit FTPS servers: existing-file policies, atomic temp+rename
 * (watched from a second connection), size verification, SHA-256, cleanup
 * after a dropped connection and the retry that follows.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import type { EndpointConfig } from '../../src/config/schema.js'
import { BridgeError } from '../../src/domain/errors.js'
import type { RemoteFiles } from '../../src/ports/remote-files.js'
import { startFtpServer } from '../../src/sandbox/ftp-server.js'
import { startSftpServer } from '../../src/sandbox/sftp-server.js'
import { caPem } from '../../src/sandbox/tls/index.js'
import { type DeliveryRequest, deliverFile, writeTextFile } from '../../src/transfer/remote-delivery.js'
import { endpointConfig, failureCode } from '../support/remote-files-contract.js'

const silent = pino({ level: 'silent' })
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const CHUNK = 256 * 1024

interface Server {
  name: string
  root: string
  /** A new adapter (its own connections) for this server. */
  remote(overrides?: Partial<EndpointConfig>): RemoteFiles
  faults: { dropAfterBytes(bytes: number): void }
}

type Kind = 'sftp' | 'ftp' | 'ftps'

async function startServer(t: Test, kind: Kind): Promise<Server> {
  const root = await mkdtemp(join(tmpdir(), 'delivery-'))
  const remotes: RemoteFiles[] = []
  let endpoint: Pick<EndpointConfig, 'protocol' | 'host' | 'username'> & Partial<EndpointConfig>
  let server: { close(): Promise<void>; faults: Server['faults'] }
  if (kind === 'sftp') {
    const sftp = await startSftpServer({ root, users: [{ username: 'alice', password: 'pw' }] })
    server = sftp
    endpoint = {
      protocol: 'sftp',
      host: sftp.host,
      port: sftp.port,
      username: 'alice',
      password: 'pw',
      hostKeySha256: sftp.hostKeySha256,
    }
  } else {
    const ftp = await startFtpServer({
      root,
      username: 'bob',
      password: 'pw',
      tls: kind === 'ftps' ? 'explicit' : false,
    })
    server = ftp
    endpoint = {
      protocol: kind,
      host: ftp.host,
      port: ftp.port,
      username: 'bob',
      password: 'pw',
      tls: { rejectUnauthorized: true, ca: caPem },
    }
  }
  t.teardown(async () => {
    await Promise.all(remotes.map((remote) => remote.close()))
    await server.close()
    await rm(root, { recursive: true, force: true })
  })
  return {
    name: kind,
    root,
    faults: server.faults,
    remote(overrides) {
      const remote = createRemoteFiles(
        endpointConfig({ ...endpoint, operationTimeoutMs: 10_000, ...overrides }),
        silent,
      )
      remotes.push(remote)
      return remote
    },
  }
}

/** A source that records whether anything read it. */
function bufferSource(data: Buffer): Readable & { reads: number } {
  let offset = 0
  const stream = new Readable({
    read() {
      stream.reads++
      const chunk = data.subarray(offset, offset + CHUNK)
      offset += chunk.length
      this.push(chunk.length > 0 ? chunk : null)
    },
  }) as Readable & { reads: number }
  stream.reads = 0
  return stream
}

/**
 * A source that hands out `pauseAt` bytes, then holds back until `resume()`:
 * the upload is provably in progress while `paused` is settled.
 */
function pausingSource(data: Buffer, pauseAt: number) {
  let offset = 0
  let resumeRead: (() => void) | undefined
  let reachedPause: () => void = () => {}
  const paused = new Promise<void>((resolve) => {
    reachedPause = resolve
  })
  const stream = new Readable({
    highWaterMark: CHUNK,
    read() {
      if (offset >= pauseAt && resumeRead === undefined) {
        resumeRead = () => this.push(next())
        reachedPause()
        return
      }
      this.push(next())
    },
  })
  const next = () => {
    const chunk = data.subarray(offset, offset + CHUNK)
    offset += chunk.length
    return chunk.length > 0 ? chunk : null
  }
  return {
    stream,
    paused,
    resume: () => resumeRead?.(),
  }
}

function request(
  overrides: Partial<DeliveryRequest> & Pick<DeliveryRequest, 'source' | 'size'>,
): DeliveryRequest {
  return {
    directory: '/out/acme',
    fileName: 'contract.pdf',
    atomic: true,
    tempSuffix: '.part',
    existing: 'fail',
    supportsRename: true,
    tag: 'job-1',
    ...overrides,
  }
}

const tempName = /^contract\.pdf\.job-1-[0-9a-f]{8}\.part$/

async function localNames(root: string, dir: string): Promise<string[]> {
  return (await readdir(join(root, dir))).sort()
}

for (const kind of ['sftp', 'ftp', 'ftps'] as const) {
  t.test(kind, async (t) => {
    t.test('delivers a file: directories made, SHA-256 of the source, no temporary left', async (t) => {
      const server = await startServer(t, kind)
      const data = randomBytes(3 * 1024 * 1024 + 17)
      const result = await deliverFile(
        server.remote(),
        request({ source: bufferSource(data), size: data.length }),
      )
      t.same(result, {
        outcome: 'delivered',
        path: '/out/acme/contract.pdf',
        bytes: data.length,
        sha256: sha256(data),
        // Not encrypted: what S-Drive holds is what was delivered.
        plaintextSha256: sha256(data),
      })
      t.equal(sha256(await readFile(join(server.root, 'out', 'acme', 'contract.pdf'))), sha256(data))
      t.same(await localNames(server.root, 'out/acme'), ['contract.pdf'])

      const empty = await deliverFile(
        server.remote(),
        request({ fileName: 'empty.txt', source: bufferSource(Buffer.alloc(0)), size: 0 }),
      )
      t.match(empty, { outcome: 'delivered', bytes: 0, sha256: sha256(Buffer.alloc(0)) }, 'an empty file')
    })

    t.test('existing-file policies', async (t) => {
      const server = await startServer(t, kind)
      await mkdir(join(server.root, 'out', 'acme'), { recursive: true })
      const existingPath = join(server.root, 'out', 'acme', 'contract.pdf')
      await writeFile(existingPath, 'the old one')
      const remote = server.remote()
      const data = Buffer.from('the new one, longer')

      const skipSource = bufferSource(data)
      t.same(
        await deliverFile(remote, request({ source: skipSource, size: data.length, existing: 'skip' })),
        {
          outcome: 'skipped',
          path: '/out/acme/contract.pdf',
          bytes: 0,
          sha256: '',
          plaintextSha256: '',
        },
      )
      t.equal(skipSource.reads, 0, 'skip does not read the source')
      t.ok(skipSource.destroyed, 'and releases it')
      t.equal(await readFile(existingPath, 'utf8'), 'the old one')

      const failSource = bufferSource(data)
      const failure = await deliverFile(
        remote,
        request({ source: failSource, size: data.length, existing: 'fail' }),
      ).catch((error: unknown) => error)
      t.match(failure, { code: 'FILE_EXISTS', transient: false }, 'fail refuses')
      t.equal(failSource.reads, 0)
      t.ok(failSource.destroyed)
      t.equal(await readFile(existingPath, 'utf8'), 'the old one')

      const renamed = await deliverFile(
        remote,
        request({ source: bufferSource(data), size: data.length, existing: 'rename' }),
      )
      t.match(renamed, { outcome: 'delivered', path: '/out/acme/contract (job-1).pdf', sha256: sha256(data) })
      const again = await deliverFile(
        remote,
        request({ source: bufferSource(data), size: data.length, existing: 'rename' }),
      )
      t.equal(again.path, '/out/acme/contract (job-1 2).pdf', 'and again')
      t.equal(await readFile(existingPath, 'utf8'), 'the old one')

      const replaced = await deliverFile(
        remote,
        request({ source: bufferSource(data), size: data.length, existing: 'overwrite' }),
      )
      t.match(replaced, { outcome: 'delivered', path: '/out/acme/contract.pdf' })
      t.equal(await readFile(existingPath, 'utf8'), data.toString(), 'overwrite replaces')
      t.same(await localNames(server.root, 'out/acme'), [
        'contract (job-1 2).pdf',
        'contract (job-1).pdf',
        'contract.pdf',
      ])
    })

    t.test('atomic: the final name appears only whole; the temporary only during upload', async (t) => {
      const server = await startServer(t, kind)
      await mkdir(join(server.root, 'out', 'acme'), { recursive: true })
      await writeFile(join(server.root, 'out', 'acme', 'contract.pdf'), 'previous version')
      const data = randomBytes(20 * 1024 * 1024)
      const source = pausingSource(data, 8 * 1024 * 1024)
      const delivering = deliverFile(
        server.remote(),
        request({ source: source.stream, size: data.length, existing: 'overwrite' }),
      )
      await source.paused
      const observer = server.remote()
      const during = await observer.list('/out/acme')
      const names = during.map((entry) => entry.name).sort()
      t.equal(names.length, 2, `two entries mid-upload: ${names.join(', ')}`)
      t.match(names[1], tempName, 'the temporary name is there')
      t.equal(
        during.find((entry) => entry.name === 'contract.pdf')?.size,
        'previous version'.length,
        'the final name still holds the previous file',
      )
      source.resume()
      const result = await delivering
      t.equal(result.sha256, sha256(data))
      const after = await observer.list('/out/acme')
      t.same(
        after.map(({ name, size }) => ({ name, size })),
        [{ name: 'contract.pdf', size: data.length }],
        'only the final name, whole',
      )
    })

    t.test('a dropped connection: CONNECTION_LOST, no temporary left, the retry delivers', async (t) => {
      const server = await startServer(t, kind)
      const remote = server.remote()
      await remote.mkdirp('/out/acme')
      const data = randomBytes(6 * 1024 * 1024)
      server.faults.dropAfterBytes(2 * 1024 * 1024)
      const first = bufferSource(data)
      const failure = await deliverFile(remote, request({ source: first, size: data.length })).catch(
        (error: unknown) => error,
      )
      t.match(failure, { code: 'CONNECTION_LOST', transient: true })
      t.ok(first.destroyed, 'the source is released')
      t.same(await localNames(server.root, 'out/acme'), [], 'neither the temporary nor the final name')

      const result = await deliverFile(remote, request({ source: bufferSource(data), size: data.length }))
      t.match(result, { outcome: 'delivered', bytes: data.length, sha256: sha256(data) })
      t.equal(sha256(await readFile(join(server.root, 'out', 'acme', 'contract.pdf'))), sha256(data))
      t.same(await localNames(server.root, 'out/acme'), ['contract.pdf'])
    })

    t.test('without rename support, or not atomic, the upload goes straight to the final name', async (t) => {
      const server = await startServer(t, kind)
      for (const settings of [
        { atomic: true, supportsRename: false },
        { atomic: false, supportsRename: true },
      ]) {
        const remote = server.remote({ supportsRename: settings.supportsRename })
        const directory = `/direct-${settings.atomic}-${settings.supportsRename}`
        const data = randomBytes(4 * 1024 * 1024)
        const source = pausingSource(data, 1024 * 1024)
        const delivering = deliverFile(
          remote,
          request({ ...settings, directory, source: source.stream, size: data.length }),
        )
        await source.paused
        t.same(
          (await server.remote().list(directory)).map((entry) => entry.name),
          ['contract.pdf'],
          `${JSON.stringify(settings)}: the final name during the upload, no temporary`,
        )
        source.resume()
        t.match(await delivering, {
          outcome: 'delivered',
          path: `${directory}/contract.pdf`,
          sha256: sha256(data),
        })
        t.equal(sha256(await readFile(join(server.root, directory, 'contract.pdf'))), sha256(data))
      }
    })

    t.test('writeTextFile writes and replaces manifests and markers', async (t) => {
      const server = await startServer(t, kind)
      const remote = server.remote()
      const settings = { atomic: true, tempSuffix: '.tmp', supportsRename: true }
      const first = await writeTextFile(remote, '/out/batch 1/manifest.csv', 'a,b\r\n1,2\r\n', settings)
      t.same(first, {
        path: '/out/batch 1/manifest.csv',
        bytes: 10,
        sha256: sha256(Buffer.from('a,b\r\n1,2\r\n')),
      })
      await writeTextFile(remote, '/out/batch 1/manifest.csv', 'replaced ✓', settings)
      t.equal(await readFile(join(server.root, 'out', 'batch 1', 'manifest.csv'), 'utf8'), 'replaced ✓')
      t.match(await writeTextFile(remote, '/out/batch 1/_DONE', '', settings), { bytes: 0 })
      t.same(await localNames(server.root, 'out/batch 1'), ['_DONE', 'manifest.csv'])
      await writeTextFile(remote, '/out/batch 1/_DONE', 'x', { ...settings, atomic: false })
      t.equal(await readFile(join(server.root, 'out', 'batch 1', '_DONE'), 'utf8'), 'x')
    })
  })
}

/** Passes every call through to `inner`, letting a test step in on the ones it names. */
function intercept(inner: RemoteFiles, overrides: Partial<RemoteFiles>): RemoteFiles {
  return {
    endpoint: inner.endpoint,
    list: (...args) => inner.list(...args),
    stat: (...args) => inner.stat(...args),
    read: (...args) => inner.read(...args),
    write: (...args) => inner.write(...args),
    rename: (...args) => inner.rename(...args),
    delete: (...args) => inner.delete(...args),
    mkdirp: (...args) => inner.mkdirp(...args),
    close: () => inner.close(),
    ...overrides,
  }
}

t.test('deliveries of one round share one mkdirp per directory; a failure forgets it', async (t) => {
  const server = await startServer(t, 'sftp')
  const real = server.remote()
  const made: string[] = []
  let listings = 0
  const remote: RemoteFiles = Object.assign(Object.create(real) as RemoteFiles, {
    mkdirp: (dir: string, options?: { signal?: AbortSignal }) => {
      made.push(dir)
      return real.mkdirp(dir, options)
    },
    list: (dir: string, options?: { signal?: AbortSignal }) => {
      listings++
      return real.list(dir, options)
    },
  })
  const directories = new Map<string, Promise<void>>()
  const data = randomBytes(1000)
  const results = await Promise.all(
    ['a.pdf', 'b.pdf', 'c.pdf', 'd.pdf'].map((fileName) =>
      deliverFile(remote, request({ fileName, source: bufferSource(data), size: data.length, directories })),
    ),
  )
  t.same(
    results.map((r) => r.outcome),
    ['delivered', 'delivered', 'delivered', 'delivered'],
  )
  t.same(made, ['/out/acme'], 'four files side by side, one mkdirp')
  t.equal(listings, 0, 'free names cost a stat each, never a listing')
  await t.rejects(
    deliverFile(
      remote,
      request({ fileName: 'a.pdf', source: bufferSource(data), size: data.length, directories }),
    ),
    { code: 'FILE_EXISTS' },
  )
  t.notOk(directories.has('/out/acme'), 'a failed delivery forgets its directory')
  await rm(join(server.root, 'out'), { recursive: true })
  const again = await deliverFile(
    remote,
    request({ fileName: 'e.pdf', source: bufferSource(data), size: data.length, directories }),
  )
  t.equal(again.outcome, 'delivered', 'the next delivery makes the directory again')
  t.same(made, ['/out/acme', '/out/acme'])
})

t.test('a size the server disagrees with is SIZE_MISMATCH, and the temporary goes', async (t) => {
  const server = await startServer(t, 'sftp')
  const remote = server.remote()
  const shortened = intercept(remote, {
    stat: async (path, options) => {
      const entry = await remote.stat(path, options)
      return entry && { ...entry, size: entry.size - 1 }
    },
  })
  const data = randomBytes(100_000)
  const failure = await deliverFile(
    shortened,
    request({ source: bufferSource(data), size: data.length }),
  ).catch((error: unknown) => error)
  t.match(failure, { code: 'SIZE_MISMATCH', transient: true, details: { expected: data.length } })
  t.same(await localNames(server.root, 'out/acme'), [])
})

t.test('a source shorter than announced fails and leaves nothing', async (t) => {
  const server = await startServer(t, 'ftp')
  const data = randomBytes(100_000)
  const failure = await deliverFile(
    server.remote(),
    request({ source: bufferSource(data), size: data.length + 1 }),
  ).catch((error: unknown) => error)
  t.match(failure, { code: 'FILE_CHANGED' })
  t.same(await localNames(server.root, 'out/acme'), [])
})

t.test('a source that fails mid-way fails the delivery with its error', async (t) => {
  const server = await startServer(t, 'sftp')
  let sent = 0
  const source = new Readable({
    read() {
      if (sent >= 512 * 1024) {
        this.destroy(new Error('S3 went away'))
        return
      }
      sent += CHUNK
      this.push(randomBytes(CHUNK))
    },
  })
  const failure = await deliverFile(server.remote(), request({ source, size: 1024 * 1024 })).catch(
    (error: unknown) => error,
  )
  t.match(failure, { message: 'S3 went away' })
  t.same(await localNames(server.root, 'out/acme'), [])
})

t.test('cancelling mid-upload is CANCELLED and removes the temporary', async (t) => {
  const server = await startServer(t, 'sftp')
  const data = randomBytes(4 * 1024 * 1024)
  const source = pausingSource(data, 1024 * 1024)
  const controller = new AbortController()
  const delivering = deliverFile(
    server.remote(),
    request({ source: source.stream, size: data.length, signal: controller.signal }),
  )
  await source.paused
  controller.abort()
  t.equal(await failureCode(delivering), 'CANCELLED')
  t.same(await localNames(server.root, 'out/acme'), [])
})

t.test('the final name taken during the upload', async (t) => {
  const server = await startServer(t, 'sftp')
  const remote = server.remote()
  const data = Buffer.from('fresh')
  /** Someone else drops `contract.pdf` into the directory while our upload runs. */
  const racing = intercept(remote, {
    write: async (path, source, options) => {
      const written = await remote.write(path, source, options)
      await writeFile(join(server.root, 'out', 'acme', 'contract.pdf'), 'theirs')
      return written
    },
  })

  const renamed = await deliverFile(
    racing,
    request({ source: bufferSource(data), size: data.length, existing: 'rename' }),
  )
  t.equal(renamed.path, '/out/acme/contract (job-1).pdf', 'rename picks another name')
  t.equal(await readFile(join(server.root, 'out', 'acme', 'contract.pdf'), 'utf8'), 'theirs')
  await rm(join(server.root, 'out', 'acme'), { recursive: true })

  const skipped = await deliverFile(
    racing,
    request({ source: bufferSource(data), size: data.length, existing: 'skip' }),
  )
  t.match(skipped, { outcome: 'skipped', path: '/out/acme/contract.pdf' }, 'skip gives way')
  t.same(await localNames(server.root, 'out/acme'), ['contract.pdf'], 'and removes its temporary')
  await rm(join(server.root, 'out', 'acme'), { recursive: true })

  t.equal(
    await failureCode(deliverFile(racing, request({ source: bufferSource(data), size: data.length }))),
    'FILE_EXISTS',
    'fail refuses',
  )
  t.same(await localNames(server.root, 'out/acme'), ['contract.pdf'])
  t.equal(await readFile(join(server.root, 'out', 'acme', 'contract.pdf'), 'utf8'), 'theirs')
})

t.test('a rename whose reply was lost counts when the file did arrive', async (t) => {
  const server = await startServer(t, 'ftp')
  const remote = server.remote()
  let renames = 0
  const lossy = intercept(remote, {
    rename: async (from, to, options) => {
      renames++
      await remote.rename(from, to, options)
      throw new BridgeError('CONNECTION_LOST', 'connection closed before the reply', { transient: true })
    },
  })
  const data = randomBytes(50_000)
  const result = await deliverFile(lossy, request({ source: bufferSource(data), size: data.length }))
  t.match(result, { outcome: 'delivered', path: '/out/acme/contract.pdf', sha256: sha256(data) })
  t.equal(renames, 1)
  t.same(await localNames(server.root, 'out/acme'), ['contract.pdf'])

  const failing = intercept(remote, {
    rename: async () => {
      throw new BridgeError('CONNECTION_LOST', 'connection closed before the rename', { transient: true })
    },
  })
  t.equal(
    await failureCode(
      deliverFile(failing, request({ fileName: 'other.pdf', source: bufferSource(data), size: data.length })),
    ),
    'CONNECTION_LOST',
    'a rename that did not happen still fails',
  )
  t.same(await localNames(server.root, 'out/acme'), ['contract.pdf'], 'its temporary removed')
})

t.test('unsafe names and suffixes are refused before anything is sent', async (t) => {
  const server = await startServer(t, 'sftp')
  const remote = server.remote()
  for (const fileName of ['../escape.pdf', '..', 'a/b.pdf']) {
    const source = bufferSource(Buffer.from('x'))
    t.equal(
      await failureCode(deliverFile(remote, request({ fileName, source, size: 1 }))),
      'INVALID_FILE_NAME',
    )
    t.ok(source.destroyed, `${fileName}: source released`)
  }
  t.equal(
    await failureCode(
      deliverFile(remote, request({ tempSuffix: '/../x', source: bufferSource(Buffer.from('x')), size: 1 })),
    ),
    'VALIDATION_FAILED',
  )
  t.same(await localNames(server.root, 'out/acme'), [])
})

t.test('a 255-byte final name still gets a temporary name that fits', async (t) => {
  const server = await startServer(t, 'sftp')
  const fileName = `${'n'.repeat(251)}.pdf`
  const data = Buffer.from('long name')
  const result = await deliverFile(
    server.remote(),
    request({ fileName, source: bufferSource(data), size: data.length }),
  )
  t.equal(result.path, `/out/acme/${fileName}`)
  t.same(await localNames(server.root, 'out/acme'), [fileName])
})
