/**
 * Opens an S3 object by the presigned URL S-Drive handed out and returns the
 * body as a stream, for piping straight to a remote server: nothing is
 * buffered, a transfer with no progress for idleTimeoutMs is aborted.
 */
import http from 'node:http'
import https from 'node:https'
import type { Readable } from 'node:stream'
import { BridgeError } from '../../domain/errors.js'

export interface S3Download {
  stream: Readable
  size: number | null
}

function failure(
  message: string,
  transient: boolean,
  details: Record<string, unknown> = {},
  cause?: unknown,
) {
  return new BridgeError('S3_DOWNLOAD_FAILED', message, { transient, details, cause })
}

export function openS3Download(
  url: string,
  idleTimeoutMs: number,
  signal?: AbortSignal,
  agent?: http.Agent,
  offset = 0,
): Promise<S3Download> {
  return new Promise<S3Download>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new BridgeError('CANCELLED', 'download cancelled'))
      return
    }
    const client = url.startsWith('https:') ? https : http
    const headers = offset > 0 ? { range: `bytes=${offset}-` } : {}
    const req = client.get(url, { headers, ...(agent ? { agent } : {}) }, (res) => {
      const status = res.statusCode ?? 0
      if (offset > 0 && status === 200) {
        // The server ignored the range: its body starts at byte 0, not where the transfer stopped.
        res.destroy()
        reject(failure('S3 did not honour the Range request', true, { status }))
        return
      }
      if (status < 200 || status >= 300) {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.length < 16 && chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1]
          // An expired link (403) is fixed by asking S-Drive for a new one: worth a retry.
          const transient = status >= 500 || status === 403 || status === 408 || status === 429
          reject(
            failure(`S3 answered ${status}${code ? `: ${code}` : ''}`, transient, { status, s3Code: code }),
          )
        })
        res.on('error', (e) => reject(failure(`S3 download failed: ${e.message}`, true, {}, e)))
        return
      }
      const length = Number(res.headers['content-length'])
      res.setTimeout(idleTimeoutMs, () =>
        res.destroy(
          new BridgeError('TIMEOUT', `S3 download made no progress for ${idleTimeoutMs} ms`, {
            transient: true,
          }),
        ),
      )
      const onAbort = () => res.destroy(new BridgeError('CANCELLED', 'download cancelled'))
      signal?.addEventListener('abort', onAbort, { once: true })
      // One job's signal serves many downloads: a finished one must not keep its listener.
      res.once('close', () => signal?.removeEventListener('abort', onAbort))
      resolve({ stream: res, size: Number.isFinite(length) ? length : null })
    })
    req.setTimeout(idleTimeoutMs, () =>
      req.destroy(
        new BridgeError('TIMEOUT', `S3 did not answer within ${idleTimeoutMs} ms`, { transient: true }),
      ),
    )
    req.on('error', (e) =>
      reject(e instanceof BridgeError ? e : failure(`S3 download failed: ${e.message}`, true, {}, e)),
    )
  })
}
