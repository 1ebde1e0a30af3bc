import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { Readable, Transform } from 'node:stream'
import t from 'tap'
import { type ByteStage, composeBytePath } from '../../src/transfer/byte-pipeline.js'
import { inboundByteStages, outboundByteStages } from '../../src/transfer/byte-stages.js'
import { hashingStage } from '../../src/transfer/hashing-stream.js'

const TEXT = 'hello world, hello bytes'

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex')
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** A stage that passes bytes on and appends its own marker at the end: shows the order stages run in. */
function markerStage<Name extends string>(name: Name, opened: Transform[] = []): ByteStage<Name, undefined> {
  return {
    name,
    open() {
      const transform = new Transform({
        transform: (chunk, _encoding, callback) => callback(null, chunk),
        flush: (callback) => callback(null, Buffer.from(`[${name}]`)),
      })
      opened.push(transform)
      return { transform }
    },
  }
}

function upperStage(): ByteStage<'upper', undefined> {
  return {
    name: 'upper',
    open: () => ({
      transform: new Transform({
        transform: (chunk: Buffer, _encoding, callback) =>
          callback(null, chunk.toString('utf8').toUpperCase()),
      }),
    }),
  }
}

/** A source that stays open until the test ends or fails it. */
function openSource(first: string): Readable {
  const source = new Readable({ read() {} })
  source.push(first)
  return source
}

t.test(
  'stages run in list order and the path ends at the last stage itself, with no stream added',
  async (t) => {
    const opened: Transform[] = []
    const path = composeBytePath({
      source: Readable.from([Buffer.from(TEXT)]),
      stages: [markerStage('first', opened), markerStage('second', opened)],
    })
    t.equal(await readAll(path.stream), `${TEXT}[first][second]`)
    await path.done
    t.equal(path.stream, opened[1], 'the consumer reads the last stage, not a wrapper around it')
    t.same(
      path.results(),
      { first: undefined, second: undefined },
      'stages without a result report undefined',
    )

    const swapped = composeBytePath({
      source: Readable.from([Buffer.from(TEXT)]),
      stages: [markerStage('second'), markerStage('first')],
    })
    t.equal(await readAll(swapped.stream), `${TEXT}[second][first]`)
  },
)

t.test('the hashing stage reports the bytes and digests of a known input', async (t) => {
  const progress: number[] = []
  const path = composeBytePath({
    source: Readable.from([Buffer.from('hello '), Buffer.from('world, hello bytes')]),
    stages: [
      hashingStage({ expectedSize: TEXT.length, md5: true, onProgress: (bytes) => progress.push(bytes) }),
    ],
  })
  t.equal(await readAll(path.stream), TEXT, 'the bytes pass unchanged')
  await path.done
  t.same(path.results().hashing, { bytes: TEXT.length, sha256: sha256(TEXT), md5: md5(TEXT) })
  t.same(progress, [6, TEXT.length], 'progress after each chunk')
  t.same(path.results(), path.results(), 'results can be read more than once')
})

t.test('MD5 is computed only when asked for', async (t) => {
  const path = composeBytePath({ source: Readable.from([Buffer.from(TEXT)]), stages: [hashingStage()] })
  await readAll(path.stream)
  await path.done
  t.same(path.results().hashing, { bytes: TEXT.length, sha256: sha256(TEXT), md5: null })
})

t.test('a source longer or shorter than expected fails the path with FILE_CHANGED', async (t) => {
  for (const expectedSize of [TEXT.length - 1, TEXT.length + 1]) {
    const source = Readable.from([Buffer.from(TEXT)])
    const path = composeBytePath({ source, stages: [hashingStage({ expectedSize })] })
    await t.rejects(
      readAll(path.stream),
      { code: 'FILE_CHANGED' },
      `expected ${expectedSize}: the consumer sees it`,
    )
    await t.rejects(path.done, { code: 'FILE_CHANGED' })
    t.ok(source.destroyed, 'the source is destroyed')
  }
})

t.test('a source error reaches the consumer and destroys every stage', async (t) => {
  const opened: Transform[] = []
  const source = openSource('partial')
  const path = composeBytePath({ source, stages: [markerStage('a', opened), markerStage('b', opened)] })
  const consumed = readAll(path.stream)
  source.destroy(new Error('connection reset'))
  await t.rejects(consumed, { message: 'connection reset' })
  await t.rejects(path.done, { message: 'connection reset' })
  t.ok(
    opened.every((transform) => transform.destroyed),
    'every stage is destroyed',
  )
})

t.test('the consumer destroying the stream destroys the source and the stages before it', async (t) => {
  const opened: Transform[] = []
  const source = openSource('partial')
  const path = composeBytePath({ source, stages: [markerStage('a', opened), markerStage('b', opened)] })
  await once(path.stream, 'readable')
  path.stream.destroy(new Error('S3 gave up'))
  await t.rejects(path.done, { message: 'S3 gave up' })
  t.ok(source.destroyed, 'the source is destroyed')
  t.ok(opened[0]?.destroyed, 'the first stage is destroyed')
})

t.test('aborting destroys the source and the chain, and the consumer sees it', async (t) => {
  const opened: Transform[] = []
  const source = openSource('partial')
  const controller = new AbortController()
  const path = composeBytePath({
    source,
    stages: [markerStage('a', opened), markerStage('b', opened)],
    signal: controller.signal,
  })
  const consumed = readAll(path.stream)
  controller.abort()
  await t.rejects(consumed, { name: 'AbortError' })
  await t.rejects(path.done, { name: 'AbortError' })
  t.ok(source.destroyed, 'the source is destroyed')
  t.ok(
    opened.every((transform) => transform.destroyed),
    'every stage is destroyed',
  )
})

t.test(
  'a stage added to the list transforms the bytes; hashing sees them as its position does',
  async (t) => {
    const before = composeBytePath({
      source: Readable.from([Buffer.from(TEXT)]),
      stages: [upperStage(), hashingStage({ expectedSize: TEXT.length })],
    })
    t.equal(await readAll(before.stream), TEXT.toUpperCase())
    await before.done
    t.equal(
      before.results().hashing.sha256,
      sha256(TEXT.toUpperCase()),
      'hashing after it: the changed bytes',
    )

    const after = composeBytePath({
      source: Readable.from([Buffer.from(TEXT)]),
      stages: [hashingStage({ expectedSize: TEXT.length }), upperStage()],
    })
    t.equal(await readAll(after.stream), TEXT.toUpperCase())
    await after.done
    t.equal(after.results().hashing.sha256, sha256(TEXT), 'hashing before it: the bytes as read')
  },
)

t.test('results are refused before the last byte went through', async (t) => {
  const source = openSource('partial')
  const path = composeBytePath({ source, stages: [hashingStage()] })
  t.throws(() => path.results(), { code: 'INTERNAL' })
  path.stream.destroy()
  await t.rejects(path.done)
})

t.test('two stages of one name are refused: one result would hide the other', async (t) => {
  const source = Readable.from([Buffer.from(TEXT)])
  t.throws(() => composeBytePath({ source, stages: [markerStage('same'), markerStage('same')] }), {
    code: 'INTERNAL',
  })
})

t.test('each direction hashes what leaves the bridge: the hashing stage is last', async (t) => {
  const progress: number[] = []
  const inbound = inboundByteStages({ size: TEXT.length, onProgress: (bytes) => progress.push(bytes) })
  t.equal(inbound.at(-1)?.name, 'hashing', 'inbound: what S3 gets, checked against its ETag')
  const uploaded = composeBytePath({ source: Readable.from([Buffer.from(TEXT)]), stages: inbound })
  await readAll(uploaded.stream)
  await uploaded.done
  t.same(uploaded.results().hashing, { bytes: TEXT.length, sha256: sha256(TEXT), md5: md5(TEXT) })
  t.same(progress, [TEXT.length])

  const outbound = outboundByteStages(TEXT.length)
  t.equal(outbound.at(-1)?.name, 'hashing', 'outbound: what the recipient gets')
  const delivered = composeBytePath({ source: Readable.from([Buffer.from(TEXT)]), stages: outbound })
  await readAll(delivered.stream)
  await delivered.done
  t.same(delivered.results().hashing, { bytes: TEXT.length, sha256: sha256(TEXT), md5: null })
})
