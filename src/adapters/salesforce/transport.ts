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
import { callContext } from './context.js'

export interface TransportHooks {
  onRequest(request: { method: string; url: string }): void
  onResponse(response: { method: string; url: string; status: number; headers: Record<string, string> }): void
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
    const res = await fetch(request.url, {
      method: request.method,
      headers: request.headers ?? {},
      // A Buffer may sit on a SharedArrayBuffer, which the DOM's BodyInit (in the program since the
      // console's preact types reference lib "dom") does not take; a request body is small to copy.
      body: Buffer.isBuffer(body) ? new Uint8Array(body) : (body ?? undefined),
      redirect: 'manual',
      signal: ctx?.signal ?? null,
    })
    const headers: Record<string, string> = {}
    res.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value
    })
    const text = await res.text()
    if (ctx) ctx.lastStatus = res.status
    this.#hooks.onResponse({ method: request.method, url: request.url, status: res.status, headers })
    return { statusCode: res.status, headers, body: text }
  }
}
