/**
 * jsforce transport on Node's fetch. jsforce's own transport retries 5xx
 * itself (hiding them from our policy), cannot be aborted per call and only
 * exposes the limit header to Connection.request; this one takes the abort
 * signal from the call context, never retries, and reports every response.
 */
import { PassThrough } from 'node:stream'
import type { HttpRequest, HttpRequestOptions, HttpResponse } from 'jsforce'
import { Transport } from 'jsforce/lib/transport.js'
import { StreamPromise } from 'jsforce/lib/util/promise.js'
import { BridgeError } from '../../domain/errors.js'
import type { ExchangeSink } from '../../ports/exchange-log.js'
import { callContext } from './context.js'

export interface TransportHooks {
  onRequest(request: { method: string; url: string }): void
  onResponse(response: { method: string; url: string; status: number; headers: Record<string, string> }): void
  /** Support recording: the whole exchange, raw (the sink redacts). */
  record?: ExchangeSink
}

function bodyOf(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export class BridgeTransport extends Transport {
  readonly #hooks: TransportHooks

  constructor(hooks: TransportHooks) {
    super()
    this.#hooks = hooks
  }

  override httpRequest(request: HttpRequest, _options?: HttpRequestOptions): StreamPromise<HttpResponse> {
    // HttpApi pipes through the stream only for raw/streamed reads, which this adapter does not use.
    return StreamPromise.create(() => ({ stream: new PassThrough(), promise: this.#send(request) }))
  }

  async #send(request: HttpRequest): Promise<HttpResponse> {
    const ctx = callContext.getStore()
    const body = request.body
    if (
      body != null &&
      typeof body !== 'string' &&
      !Buffer.isBuffer(body) &&
      !(body instanceof URLSearchParams)
    ) {
      throw new BridgeError('INTERNAL', 'Salesforce transport only sends string, Buffer or form bodies')
    }
    this.#hooks.onRequest({ method: request.method, url: request.url })
    const started = Date.now()
    let res: Response
    try {
      res = await fetch(request.url, {
        method: request.method,
        headers: request.headers ?? {},
        // A Buffer may sit on a SharedArrayBuffer, which the DOM's BodyInit (in the program since the
        // console's preact types reference lib "dom") does not take; a request body is small to copy.
        body: Buffer.isBuffer(body) ? new Uint8Array(body) : (body ?? undefined),
        redirect: 'manual',
        signal: ctx?.signal ?? null,
      })
    } catch (error) {
      this.#record(request, started, null, {}, undefined, error)
      throw error
    }
    const headers: Record<string, string> = {}
    res.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value
    })
    const text = await res.text()
    if (ctx) ctx.lastStatus = res.status
    this.#record(request, started, res.status, headers, text)
    this.#hooks.onResponse({ method: request.method, url: request.url, status: res.status, headers })
    return { statusCode: res.status, headers, body: text }
  }

  #record(
    request: HttpRequest,
    started: number,
    status: number | null,
    responseHeaders: Record<string, string>,
    text: string | undefined,
    error?: unknown,
  ): void {
    const record = this.#hooks.record
    if (!record) return
    const body = request.body
    record({
      at: new Date(started).toISOString(),
      service: 'salesforce',
      method: request.method,
      url: request.url,
      status,
      durationMs: Date.now() - started,
      requestHeaders: { ...(request.headers ?? {}) },
      ...(typeof body === 'string' ? { requestBody: bodyOf(body) } : {}),
      responseHeaders,
      ...(text !== undefined ? { responseBody: bodyOf(text) } : {}),
      ...(error !== undefined ? { error: error instanceof Error ? error.message : String(error) } : {}),
    })
  }
}
