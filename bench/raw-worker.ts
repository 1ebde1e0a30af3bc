/**
 * The baseline the service is compared with: the same bytes moved by the raw
 * clients, with no service in between, in a child process like the service.
 *
 *   inbound:  ssh2-sftp-client / basic-ftp read stream → S3 form POST (the
 *             bridge's own uploadToS3, with a ticket S-Drive handed out)
 *   outbound: S3 GET by an S-Drive download URL (the bridge's openS3Download)
 *             → ssh2-sftp-client put / basic-ftp uploadFrom
 *
 * `concurrency` connections each take the next task until none is left.
 * Usage (from bench/lib.ts runRawWorker): tsx bench/raw-worker.ts JOB.json
 * → prints {"seconds": …}.
 */
import { readFile } from 'node:fs/promises'
import { PassThrough, Transform } from 'node:stream'
import { Client as FtpClient } from 'basic-ftp'
import SftpClient from 'ssh2-sftp-client'
import { openS3Download } from '../src/adapters/sdrive/s3-download.js'
import { uploadToS3 } from '../src/adapters/sdrive/s3-upload.js'
import type { RawTask, RemoteConnection } from './lib.js'

interface Job {
  connection: RemoteConnection
  tasks: RawTask[]
  concurrency: number
}

interface RawClient {
  /** The file as a stream, and when the client is free again (FTP: after the 226 reply). */
  read(path: string): { stream: PassThrough; done: Promise<unknown> }
  write(stream: NodeJS.ReadableStream, path: string): Promise<void>
  end(): Promise<void>
}

/** The request size the service's SFTP adapter uses too. */
const CHUNK = 256 * 1024

function coalesce(): Transform {
  let parts: Buffer[] = []
  let size = 0
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      parts.push(chunk)
      size += chunk.length
      if (size >= CHUNK) {
        this.push(Buffer.concat(parts))
        parts = []
        size = 0
      }
      cb()
    },
    flush(cb) {
      if (size) this.push(Buffer.concat(parts))
      cb()
    },
  })
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
    return {
      read(path) {
        const out = new PassThrough()
        const stream = sftp.createReadStream(path, { highWaterMark: CHUNK })
        stream.on('error', (e: Error) => out.destroy(e))
        stream.pipe(out)
        return { stream: out, done: Promise.resolve() }
      },
      async write(stream, path) {
        // ssh2 writes one request at a time: 256 KiB requests, not the HTTP body's ~16 KiB pieces.
        await sftp.put(stream.pipe(coalesce()), path)
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
      await ftp.uploadFrom(stream as NodeJS.ReadableStream & PassThrough, path)
    },
    async end() {
      ftp.close()
    },
  }
}

async function runTask(client: RawClient, task: RawTask): Promise<void> {
  if (task.kind === 'inbound') {
    const { stream: body, done } = client.read(task.remotePath)
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
const t0 = process.hrtime.bigint()
await Promise.all(
  clients.map(async (client) => {
    for (;;) {
      const task = job.tasks[next++]
      if (!task) return
      await runTask(client, task)
    }
  }),
)
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
await Promise.all(clients.map((c) => c.end()))
process.stdout.write(`${JSON.stringify({ seconds })}\n`)
