/**
 * Step 2: streams the file to S3 as a browser-style form POST over
 * node:http(s). The body is piped chunk by chunk with backpressure, so memory
 * stays flat whatever the file size.
 */
import http from 'node:http'
import https from 'node:https'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BridgeError } from '../../domain/errors.js'
import { buildMultipartFrame, type MultipartFrame } from './multipart.js'

export interface S3UploadRequest {
  url: string
  fields: readonly [string, string][]
  fileName: string
  contentType: string
  body: Readable
  sizeBytes: number
  /** No bytes sent or received for this long → TIMEOUT. */
  idleTimeoutMs: number
  signal?: AbortSignal
  /** Set when a proxy applies (adapters/proxy/http-agents.ts). */
  agent?: http.Agent
}

/** S3 error answers are small XML documents; more than this is not read. */
const MAX_ERROR_BODY = 64 * 1024

function xmlTag(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1]
}

function networkFailure(error: unknown): BridgeError {
  if (error instanceof BridgeError && error.code === 'PROXY_AUTH_FAILED') return error
  const code = (error as { code?: unknown })?.code
  const message = error instanceof Error ? error.message : String(error)
  return new BridgeError('S3_UPLOAD_FAILED', `S3 upload failed: ${message}`, {
    transient: true,
    details: typeof code === 'string' ? { networkCode: code } : {},
    cause: error,
  })
}

function answerFailure(status: number, text: string): BridgeError {
  const s3Code = xmlTag(text, 'Code')
  const s3Message = xmlTag(text, 'Message')
  const label = s3Code ? `${s3Code}${s3Message ? `: ${s3Message}` : ''}` : `HTTP ${status}`
  return new BridgeError('S3_UPLOAD_FAILED', `S3 answered ${status}: ${label}`, {
    // 5xx (and 408/429 throttling) pass with time; other 4xx are policy/signature faults that will not.
    transient: status >= 500 || status === 408 || status === 429,
    details: { status, ...(s3Code ? { s3Code } : {}) },
  })
}

export interface S3UploadResult {
  versionId: string | null
  /** S3's ETag as sent (quoted); for a single-part upload without KMS it is the body's MD5. */
  etag: string | null
}

/** One upload's outcome, settled once: whichever of answer, failure, idle timeout or abort comes first wins. */
interface UploadAttempt {
  readonly settled: boolean
  /** S3 has started answering; from then on its answer decides, not the socket. */
  responded: boolean
  progress(): void
  fail(error: unknown): void
  succeed(result: S3UploadResult): void
}

function startAttempt(
  req: S3UploadRequest,
  outgoing: http.ClientRequest,
  resolve: (result: S3UploadResult) => void,
  reject: (error: unknown) => void,
): UploadAttempt {
  let settled = false
  const idle = setTimeout(() => {
    attempt.fail(
      new BridgeError('TIMEOUT', `S3 upload made no progress for ${req.idleTimeoutMs} ms`, {
        transient: true,
      }),
    )
  }, req.idleTimeoutMs)
  const onAbort = () => attempt.fail(new BridgeError('CANCELLED', 'S3 upload cancelled'))
  req.signal?.addEventListener('abort', onAbort, { once: true })

  function cleanup() {
    clearTimeout(idle)
    req.signal?.removeEventListener('abort', onAbort)
  }
  const attempt: UploadAttempt = {
    get settled() {
      return settled
    },
    responded: false,
    progress: () => idle.refresh(),
    fail(error) {
      if (settled) return
      settled = true
      cleanup()
      outgoing.destroy()
      req.body.destroy()
      reject(error)
    },
    succeed(result) {
      if (settled) return
      settled = true
      cleanup()
      resolve(result)
    },
  }
  return attempt
}

/** The multipart body: preamble, the file's bytes (exactly the declared size), epilogue. */
async function* framedBody(
  frame: MultipartFrame,
  req: S3UploadRequest,
  attempt: UploadAttempt,
): AsyncGenerator<Buffer> {
  yield frame.preamble
  let sent = 0
  try {
    for await (const chunk of req.body) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)
      sent += buffer.length
      if (sent > req.sizeBytes) {
        throw new BridgeError(
          'SIZE_MISMATCH',
          `Upload body is longer than the declared ${req.sizeBytes} bytes`,
        )
      }
      attempt.progress()
      yield buffer
    }
  } catch (error) {
    // The body's own error (or ours) wins over the socket error that aborting causes.
    attempt.fail(error)
    throw error
  }
  if (sent !== req.sizeBytes) {
    const error = new BridgeError(
      'SIZE_MISMATCH',
      `Upload body ended after ${sent} of ${req.sizeBytes} bytes`,
    )
    attempt.fail(error)
    throw error
  }
  yield frame.epilogue
}

function readAnswer(res: http.IncomingMessage, attempt: UploadAttempt): void {
  attempt.responded = true
  attempt.progress()
  const status = res.statusCode ?? 0
  const chunks: Buffer[] = []
  let size = 0
  res.on('data', (chunk: Buffer) => {
    attempt.progress()
    if (size < MAX_ERROR_BODY) chunks.push(chunk)
    size += chunk.length
  })
  res.on('error', (error) => attempt.fail(networkFailure(error)))
  res.on('end', () => {
    if (status >= 200 && status < 300) {
      const version = res.headers['x-amz-version-id']
      const etag = res.headers.etag
      attempt.succeed({
        versionId: typeof version === 'string' && version.length > 0 ? version : null,
        etag: typeof etag === 'string' && etag.length > 0 ? etag : null,
      })
    } else {
      attempt.fail(answerFailure(status, Buffer.concat(chunks).toString('utf8')))
    }
  })
}

export function uploadToS3(req: S3UploadRequest): Promise<S3UploadResult> {
  if (req.signal?.aborted) {
    req.body.destroy()
    return Promise.reject(new BridgeError('CANCELLED', 'S3 upload cancelled'))
  }
  const frame = buildMultipartFrame(req.fields, req.fileName, req.contentType, req.sizeBytes)
  const url = new URL(req.url)
  const client = url.protocol === 'https:' ? https : http

  return new Promise((resolve, reject) => {
    const outgoing = client.request(url, {
      method: 'POST',
      ...(req.agent ? { agent: req.agent } : {}),
      headers: {
        'content-type': `multipart/form-data; boundary=${frame.boundary}`,
        'content-length': String(frame.contentLength),
      },
    })
    const attempt = startAttempt(req, outgoing, resolve, reject)

    outgoing.on('response', (res) => readAnswer(res, attempt))
    outgoing.on('error', (error) => {
      // After S3 answered (e.g. an early 403), a reset while we were still sending is expected; the answer decides.
      if (!attempt.responded) attempt.fail(networkFailure(error))
    })

    pipeline(Readable.from(framedBody(frame, req, attempt), { objectMode: false }), outgoing).catch(
      (error: unknown) => {
        if (!attempt.responded) attempt.fail(attempt.settled ? error : networkFailure(error))
      },
    )
  })
}
