/**
 * A read-only look at the configured S3 upload URL: one GET of the bucket
 * root. S-Drive does not return the bucket endpoint, so a wrong URL would
 * otherwise only show on the first upload. A bucket answers with S3's XML
 * (403 AccessDenied for a private bucket); a wrong bucket with NoSuchBucket.
 */
import http from 'node:http'
import https from 'node:https'
import type { UploadUrlAnswer } from '../../ports/sdrive.js'

const MAX_BODY = 16 * 1024

export function checkUploadUrl(
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
  agent?: http.Agent,
): Promise<UploadUrlAnswer> {
  return new Promise((resolve) => {
    const client = url.startsWith('https:') ? https : http
    const deadline = AbortSignal.timeout(timeoutMs)
    const req = client.get(
      url,
      { signal: signal ? AbortSignal.any([signal, deadline]) : deadline, ...(agent ? { agent } : {}) },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          if (text.length < MAX_BODY) text += chunk
        })
        res.on('end', () => {
          const s3Code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? null
          resolve({ status: res.statusCode ?? null, s3Code, error: null })
        })
        res.on('error', (error) =>
          resolve({ status: res.statusCode ?? null, s3Code: null, error: error.message }),
        )
      },
    )
    req.on('error', (error) => resolve({ status: null, s3Code: null, error: error.message }))
  })
}
