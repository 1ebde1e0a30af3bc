/** S3 objects: metadata in memory, bytes in files, so gigabyte uploads never sit in memory. */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { type Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'

export interface S3ObjectInfo {
  key: string
  size: number
  etag: string
  versionId?: string
  contentType: string
  contentDisposition?: string
  metadata: Record<string, string>
  lastModified: Date
  file: string
}

export interface ObjectDetails {
  contentType: string
  contentDisposition?: string
  metadata: Record<string, string>
}

export type ReceiveOutcome =
  | { ok: true; object: S3ObjectInfo }
  | { ok: false; code: 'EntityTooLarge' | 'EntityTooSmall'; size: number }

export class S3Store {
  private readonly objects = new Map<string, S3ObjectInfo>()
  /** File names (the last key segment) whose uploads are stored with one byte flipped. */
  private readonly corrupted = new Set<string>()

  constructor(
    private readonly dir: string,
    private readonly versioned: boolean,
  ) {}

  get(key: string): S3ObjectInfo | undefined {
    return this.objects.get(key)
  }

  keys(): string[] {
    return [...this.objects.keys()]
  }

  /**
   * From now on, uploads of these file names are stored with their first byte flipped, as a bit
   * flip on the way would: the ETag is the MD5 of what was stored, not of what was sent. Replaces
   * the names armed before; none: every upload is stored as sent.
   */
  corruptUploads(fileNames: readonly string[]): void {
    this.corrupted.clear()
    for (const name of fileNames) this.corrupted.add(name)
  }

  /**
   * Streams an upload to a temp file and publishes it only when complete and within
   * `range`; bytes past the maximum are read and dropped so the form can still be answered.
   */
  async receive(
    key: string,
    body: Readable,
    range: { min: number; max: number } | undefined,
    details: ObjectDetails,
  ): Promise<ReceiveOutcome> {
    const file = join(this.dir, randomUUID())
    const md5 = createHash('md5')
    let size = 0
    let tooLarge = false
    let corrupt = this.corrupted.has(key.slice(key.lastIndexOf('/') + 1))
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length
        if (tooLarge || (range && size > range.max)) {
          tooLarge = true
          callback()
          return
        }
        if (corrupt && chunk.length > 0) {
          chunk = Buffer.from(chunk)
          chunk[0] = (chunk[0] as number) ^ 0xff
          corrupt = false
        }
        md5.update(chunk)
        callback(null, chunk)
      },
    })
    try {
      await pipeline(body, meter, createWriteStream(file))
    } catch (error) {
      await rm(file, { force: true })
      throw error
    }
    if (tooLarge || (range && size < range.min)) {
      await rm(file, { force: true })
      return { ok: false, code: tooLarge ? 'EntityTooLarge' : 'EntityTooSmall', size }
    }
    const previous = this.objects.get(key)
    const object: S3ObjectInfo = {
      key,
      size,
      etag: `"${md5.digest('hex')}"`,
      ...(this.versioned ? { versionId: randomBytes(24).toString('base64url') } : {}),
      ...details,
      lastModified: new Date(),
      file,
    }
    this.objects.set(key, object)
    if (previous) await rm(previous.file, { force: true })
    return { ok: true, object }
  }

  read(key: string, range?: { start: number; end: number }): Readable | undefined {
    const object = this.objects.get(key)
    return object ? createReadStream(object.file, range) : undefined
  }

  async bytes(key: string): Promise<Buffer | undefined> {
    const object = this.objects.get(key)
    return object ? readFile(object.file) : undefined
  }

  async delete(key: string): Promise<void> {
    const object = this.objects.get(key)
    if (!object) return
    this.objects.delete(key)
    await rm(object.file, { force: true })
  }
}
