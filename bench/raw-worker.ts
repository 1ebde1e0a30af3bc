/**
 * The baseline the service is compared with: the same bytes moved by the raw
 * clients, with no service in between, in a child process like the service.
 *
 *   inbound:  remote read → S3 form POST (the bridge's own uploadToS3, with a
 *             ticket S-Drive handed out)
 *   outbound: S3 GET by an S-Drive download URL (the bridge's openS3Download)
 *             → remote write
 *
 * SFTP reads and writes use ssh2's own fast-transfer scheme (what its
 * fastGet / fastPut do: 64 requests of 32 KiB in flight) on the raw ssh2
 * channel, streamed: the strongest the client library offers. Its plain
 * streams (createReadStream, put) keep one request in flight and move a large
 * file at a fraction of the speed, which would flatter the service.
 * FTP uses basic-ftp's downloadTo / uploadFrom.
 *
 * `concurrency` connections each take the next task until none is left.
 * Usage (from bench/lib.ts runRawWorker): tsx bench/raw-worker.ts JOB.json
 * → prints {"seconds": …, "cpu": …}: the timed window's wall time and its CPU (cpu.ts), the
 * machine's and this process's.
 */
import { readFile } from 'node:fs/promises'
import { PassThrough, Readable } from 'node:stream'
import { Client as FtpClient } from 'basic-ftp'
import type { Client, SFTPWrapper } from 'ssh2'
import SftpClient from 'ssh2-sftp-client'
import { openS3Download } from '../src/adapters/sdrive/s3-download.js'
import { uploadToS3 } from '../src/adapters/sdrive/s3-upload.js'
import { cpuWindow } from './cpu.js'
import type { RawTask, RemoteConnection } from './lib.js'

interface Job {
  connection: RemoteConnection
  tasks: RawTask[]
  concurrency: number
}

interface RawClient {
  /** The file as a stream, and when the client is free again (FTP: after the 226 reply). */
  read(path: string, size: number): { stream: Readable; done: Promise<unknown> }
  write(stream: Readable, path: string): Promise<void>
  end(): Promise<void>
}

/** ssh2's fastGet / fastPut defaults. */
const CHUNK = 32 * 1024
const IN_FLIGHT = 64

function sftpCall<T>(start: (done: (error: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((error, value) => (error ? reject(error) : resolve(value)))
  })
}

/** A file of known size read as fastGet reads it, delivered in order as a stream. */
function fastReadStream(sftp: SFTPWrapper, path: string, size: number): Readable {
  let handle: Buffer | undefined
  let next = 0
  const pending: Promise<Buffer>[] = []
  const issue = () => {
    while (handle && pending.length < IN_FLIGHT && next < size) {
      const length = Math.min(CHUNK, size - next)
      const buffer = Buffer.allocUnsafe(length)
      const at = next
      next += length
      const h = handle
      const read = sftpCall<number>((done) => sftp.read(h, buffer, 0, length, at, done)).then((n) => {
        if (n !== length) throw new Error(`short read at ${at}: ${n} of ${length} bytes`)
        return buffer
      })
      read.catch(() => undefined)
      pending.push(read)
    }
  }
  return new Readable({
    highWaterMark: CHUNK * 8,
    construct(callback) {
      sftpCall<Buffer>((done) => sftp.open(path, 'r', done)).then((h) => {
        handle = h
        callback()
      }, callback)
    },
    read() {
      issue()
      const head = pending.shift()
      if (!head) {
        this.push(null)
        return
      }
      head.then(
        (chunk) => this.push(chunk),
        (error: Error) => this.destroy(error),
      )
    },
    destroy(error, callback) {
      const h = handle
      if (h) sftp.close(h, () => undefined)
      callback(error)
    },
  })
}

/** Writes a stream as fastPut writes a file: up to 64 writes of at most 32 KiB in flight. */
async function fastWrite(sftp: SFTPWrapper, source: Readable, path: string): Promise<void> {
  const handle = await sftpCall<Buffer>((done) => sftp.open(path, 'w', done))
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  let position = 0
  for await (const data of source) {
    const buffer = data as Buffer
    for (let off = 0; off < buffer.length; off += CHUNK) {
      const piece = buffer.subarray(off, off + CHUNK)
      const at = position
      position += piece.length
      const write: Promise<void> = sftpCall<undefined>((done) =>
        sftp.write(handle, piece, 0, piece.length, at, (error) => done(error, undefined)),
      ).then(
        () => {
          inFlight.delete(write)
        },
        (error: unknown) => {
          failure ??= error
          inFlight.delete(write)
        },
      )
      inFlight.add(write)
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight)
      if (failure) throw failure
    }
  }
  await Promise.all(inFlight)
  if (failure) throw failure
  await sftpCall<undefined>((done) => sftp.close(handle, (error) => done(error, undefined)))
}

async function connect(c: RemoteConnection): Promise<RawClient> {
  if (c.protocol === 'sftp') {
    const sftp = new SftpClient()
    await sftp.connect({
      host: c.host,
      port: c.port,
      username: c.username,
      ...(c.password ? { password: c.password } : {}),
      ...(c.privateKey ? { privateKey: c.privateKey } : {}),
    })
    const { sftp: channel, client: ssh } = sftp as unknown as { sftp: SFTPWrapper; client: Client }
    // As the service's connections: without it a small request can wait 40 ms for a delayed ACK.
    ssh.setNoDelay(true)
    return {
      read(path, size) {
        return { stream: fastReadStream(channel, path, size), done: Promise.resolve() }
      },
      async write(stream, path) {
        await fastWrite(channel, stream, path)
      },
      async end() {
        await sftp.end()
      },
    }
  }
  const ftp = new FtpClient(0)
  await ftp.access({ host: c.host, port: c.port, user: c.username, password: c.password ?? '' })
  return {
    read(path) {
      const out = new PassThrough()
      const done = ftp.downloadTo(out, path).then(
        () => out.end(),
        (e: Error) => out.destroy(e),
      )
      return { stream: out, done }
    },
    async write(stream, path) {
      await ftp.uploadFrom(stream, path)
    },
    async end() {
      ftp.close()
    },
  }
}

async function runTask(client: RawClient, task: RawTask): Promise<void> {
  if (task.kind === 'inbound') {
    const { stream: body, done } = client.read(task.remotePath, task.size)
    await uploadToS3({
      url: task.s3Url,
      fields: task.fields,
      fileName: task.fileName,
      contentType: 'application/octet-stream',
      body,
      sizeBytes: task.size,
      idleTimeoutMs: 300_000,
    })
    await done
    return
  }
  const { stream } = await openS3Download(task.downloadUrl, 300_000)
  await client.write(stream, task.remotePath)
}

const job = JSON.parse(await readFile(process.argv[2] as string, 'utf8')) as Job
const clients = await Promise.all(Array.from({ length: job.concurrency }, () => connect(job.connection)))
let next = 0
const window = cpuWindow(process.pid)
await Promise.all(
  clients.map(async (client) => {
    for (;;) {
      const task = job.tasks[next++]
      if (!task) return
      await runTask(client, task)
    }
  }),
)
const cpu = window()
await Promise.all(clients.map((c) => c.end()))
process.stdout.write(`${JSON.stringify({ seconds: cpu.seconds, cpu })}\n`)
