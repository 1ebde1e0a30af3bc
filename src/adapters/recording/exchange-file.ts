/**
 * Support recording: redacted exchanges as JSON lines in a file of their
 * own under a directory, for a bounded time (a forgotten recording must not
 * fill the disk). Writes are appended in order through one stream; a write
 * error ends the recording, never the calls being recorded.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import { redactExchange } from '../../logging/exchange-redaction.js'
import type { Exchange, ExchangeSink } from '../../ports/exchange-log.js'

export interface ExchangeRecording {
  /** The file the lines go to. */
  readonly path: string
  readonly sink: ExchangeSink
  /** Lines written so far. */
  lines(): number
  /** Stops recording and waits until every line is on disk. */
  close(): Promise<void>
}

export interface ExchangeRecordingOptions {
  directory: string
  /** Part of the file name, e.g. check-org or salesforce. */
  label: string
  /** Values removed wherever they appear (client secret, private key, …). */
  secrets: readonly string[]
  /** Recording stops this long after it started; default: until closed. */
  forMs?: number
  now?: () => number
}

export function openExchangeRecording(options: ExchangeRecordingOptions): ExchangeRecording {
  const now = options.now ?? Date.now
  const started = now()
  mkdirSync(options.directory, { recursive: true })
  const stamp = new Date(started).toISOString().replace(/[:.]/g, '-')
  const path = join(options.directory, `${options.label}-${stamp}-${process.pid}.jsonl`)
  const stream: WriteStream = createWriteStream(path, { flags: 'a', mode: 0o600 })
  let open = true
  let written = 0
  stream.on('error', () => {
    open = false
  })
  const until = options.forMs === undefined ? Number.POSITIVE_INFINITY : started + options.forMs
  const sink: ExchangeSink = (exchange: Exchange) => {
    if (!open) return
    if (now() >= until) {
      open = false
      stream.end()
      return
    }
    stream.write(`${JSON.stringify(redactExchange(exchange, options.secrets))}\n`)
    written++
  }
  return {
    path,
    sink,
    lines: () => written,
    close: () =>
      new Promise<void>((resolve) => {
        open = false
        if (stream.closed || stream.destroyed) {
          resolve()
          return
        }
        stream.end(() => resolve())
      }),
  }
}
