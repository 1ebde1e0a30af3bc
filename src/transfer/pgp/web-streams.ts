/**
 * openpgp streams web streams; the byte path streams node streams. These
 * adapters pull one chunk when the other side asks for one (highWaterMark 0),
 * so no side reads ahead of what the consumer takes: that is what keeps
 * memory flat whatever the file size.
 */
import { Readable } from 'node:stream'

export function nodeToWeb(source: Readable, onChunk?: (bytes: number) => void): ReadableStream<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await chunks.next()
        if (next.done) controller.close()
        else {
          const chunk = toUint8(next.value)
          onChunk?.(chunk.byteLength)
          controller.enqueue(chunk)
        }
      },
      cancel(reason) {
        source.destroy(reason instanceof Error ? reason : undefined)
      },
    },
    { highWaterMark: 0 },
  )
}

/** Armored output comes as strings, binary as bytes: both leave as Buffers. */
export function webToNode(stream: ReadableStream<Uint8Array | string>): Readable {
  return Readable.from(toBuffers(stream), { objectMode: false, highWaterMark: 64 * 1024 })
}

async function* toBuffers(stream: ReadableStream<Uint8Array | string>): AsyncGenerator<Buffer> {
  const reader = stream.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield typeof value === 'string'
        ? Buffer.from(value, 'utf8')
        : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    }
  } finally {
    // An early stop (the consumer failed) cancels openpgp's stream, which cancels its source.
    await reader.cancel().catch(() => undefined)
  }
}

function toUint8(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk
  return Buffer.from(String(chunk))
}

/** The source with its first chunk read, so the caller can look at the first bytes before handing it on. */
export async function withHead(source: Readable): Promise<{ head: Buffer; stream: Readable }> {
  const chunks = source[Symbol.asyncIterator]()
  const first = await chunks.next()
  const head = first.done ? Buffer.alloc(0) : Buffer.from(first.value as Uint8Array)
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head
    for (;;) {
      const next = await chunks.next()
      if (next.done) return
      yield next.value as Buffer
    }
  }
  const stream = Readable.from(rest(), { objectMode: false, highWaterMark: 64 * 1024 })
  stream.once('close', () => {
    if (!source.destroyed) source.destroy()
  })
  return { head, stream }
}
