/** Moving one file's bytes over an FTP data connection: RETR to a consumer, a source to STOR. */
import { PassThrough, type Readable, Transform, Writable } from 'node:stream'
import type { Client } from 'basic-ftp'
import type { BridgeError } from '../../domain/errors.js'
import { tlsDataHandshake } from './ftp-connect.js'
import { ftpError } from './ftp-errors.js'
import { CallerFailure, type OperationControl } from './operation.js'

const GATE_HIGH_WATER = 256 * 1024

/**
 * Between the data connection and the consumer. FTP signals a complete
 * transfer only on the control connection (226), and a dropped server looks
 * like a clean end of the data stream, so the consumer sees the end only
 * after the reply confirmed it, and an error otherwise.
 */
class DownloadGate {
  readonly readable = new PassThrough({ highWaterMark: GATE_HIGH_WATER })
  bytes = 0
  onFirstChunk: () => void = () => {}
  readonly sink = new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      if (this.bytes === 0) this.onFirstChunk()
      this.bytes += chunk.length
      if (this.readable.destroyed) {
        callback(new Error('the consumer closed the stream'))
        return
      }
      if (this.readable.write(chunk)) {
        callback()
        return
      }
      const resume = () => {
        this.readable.off('drain', resume)
        this.readable.off('close', resume)
        callback()
      }
      this.readable.on('drain', resume)
      this.readable.on('close', resume)
    },
    final: (callback) => callback(),
  })

  finish(): void {
    this.readable.end()
  }

  fail(error: BridgeError): void {
    this.readable.destroy(error)
  }
}

export async function readFile<T>(
  client: Client,
  control: OperationControl,
  path: string,
  consume: (stream: Readable) => Promise<T>,
  offset = 0,
): Promise<T> {
  const gate = new DownloadGate()
  let consumed: Promise<T> | undefined
  let transferDone = false
  let consumerLeftEarly = false
  const startConsumer = () => {
    if (consumed) return
    control.commit()
    consumed = consume(gate.readable)
    control.hold(consumed)
    const settled = () => {
      // A consumer that returns before the end leaves RETR running; only closing stops it.
      if (!transferDone) {
        consumerLeftEarly = true
        client.close()
      }
    }
    consumed.then(settled, settled)
  }
  gate.onFirstChunk = startConsumer
  control.watch(() => ({ bytes: gate.bytes, waitingOnLocal: gate.readable.writableNeedDrain }))
  let transferError: BridgeError | undefined
  try {
    // basic-ftp sends REST <offset> before RETR when it is not 0.
    await client.downloadTo(gate.sink, path, offset)
  } catch (error) {
    transferError = ftpError(error)
  }
  transferDone = true
  if (transferError && !consumerLeftEarly) {
    // Nobody listens for errors on the stream before the consumer has it.
    if (consumed) gate.fail(transferError)
    else gate.readable.destroy()
    throw transferError
  }
  startConsumer()
  if (!gate.readable.destroyed) gate.finish()
  try {
    return await (consumed as Promise<T>)
  } catch (error) {
    throw new CallerFailure(error)
  }
}

export async function writeFile(
  client: Client,
  control: OperationControl,
  path: string,
  source: Readable,
  offset = 0,
): Promise<{ bytes: number }> {
  let bytes = 0
  let sourceError: unknown
  let sourceEnded = false
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length
      callback(null, chunk)
    },
    // Ending a TLS data connection during its handshake (an empty file) makes vsftpd
    // fail the transfer ("wrong version number", "decode error"); the end waits for the
    // handshake and one more turn of the event loop (measured: 0 of 150 failed since).
    flush(callback) {
      const handshake = tlsDataHandshake(client)
      if (handshake) handshake.then(() => setImmediate(callback))
      else callback()
    },
  })
  // The source is only touched once the server accepted STOR; until then a dead
  // connection can be retried without losing data. pipe(), not pipeline(): a failing
  // upload must not be mistaken for a failing source.
  counter.once('resume', () => {
    control.commit()
    source.once('error', (error) => {
      sourceError ??= error
      counter.destroy(error)
    })
    source.once('end', () => {
      sourceEnded = true
    })
    source.pipe(counter)
  })
  control.watch(() => ({ bytes, waitingOnLocal: !sourceEnded && counter.readableLength === 0 }))
  try {
    // APPE continues a file at its end, which the caller checked is `offset`: the one way to
    // write after existing bytes that every server offers (REST before STOR is optional).
    if (offset > 0) await client.appendFrom(counter, path)
    else await client.uploadFrom(counter, path)
  } catch (error) {
    if (!sourceEnded) {
      source.unpipe(counter)
      source.destroy()
    }
    if (sourceError === undefined) throw error
    // The server still expects the rest of the upload; the connection is unusable.
    client.close()
    throw new CallerFailure(sourceError)
  }
  return { bytes }
}
