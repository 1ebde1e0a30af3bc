/**
 * jsforce transport on Node's fetch. jsforce's own transport retries 5xx
 * itself (hiding them from our policy), cannot be aborted per call and only
 * exposes the limit header to Connection.request; this one takes the abort
 * signal from the call context, never retries, and reports every response.
 *
 * It implements the shape of `Connection['_transport']` instead of extending
 * jsforce's Transport class: that class is not exported by the package's
 * public entry point (only deep imports reach it), and Connection and its
 * HttpApi only ever call httpRequest on it.
 */
import { PassThrough } from 'node:stream'
import type {
  Connection,
  HttpRequest,
  HttpRequestOptions,
  HttpResponse,
  StreamPromise,
} from '@jsforce/jsforce-node'
import type { Dispatcher } from 'undici'
import { BridgeError } from '../../domain/errors.js'
import type { ExchangeSink } from '../../ports/exchange-log.js'
import { proxyAuthFailure } from '../proxy/http-agents.js'
import { callContext } from './context.js'

type JsforceTransport = Connection['_transport']

export interface TransportHooks {
  onRequest(request: { method: string; url: string }): void
  onResponse(response: { method: string; url: string; status: number; headers: Record<string, string> }): void
  /** Support recording: the whole exchange, raw (the sink redacts). */
  record?: ExchangeSink
  /** The fetch dispatcher through a proxy for this URL; undefined goes direct. */
  dispatcherFor?: (url: string) => Dispatcher | undefined
}

function bodyOf(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export class BridgeTransport implements JsforceTransport {
  readonly #hooks: TransportHooks

  constructor(hooks: TransportHooks) {
    this.#hooks = hooks
  }

  httpRequest(request: HttpRequest, _options?: HttpRequestOptions): StreamPromise<HttpResponse> {
    // HttpApi awaits the promise and pipes from stream() only for raw/streamed reads, which this
    // adapter does not use. The package's entry point names StreamPromise in its types but does not
    // export the class at run time, so the promise gets its stream() here.
    const stream = new PassThrough()
    return Object.assign(this.#send(request), { stream: () => stream })
  }

  /** Only jsforce's own httpRequest calls this; ours above never does. */
  getRequestStreamCreator(): never {
    throw new BridgeError('INTERNAL', 'the Salesforce transport has no request stream creator')
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
      const dispatcher = this.#hooks.dispatcherFor?.(request.url)
      res = await fetch(request.url, {
        ...(dispatcher ? { dispatcher } : {}),
        method: request.method,
        headers: request.headers ?? {},
        // A Buffer may sit on a SharedArrayBuffer, which the DOM's BodyInit (in the program since the
        // console's preact types reference lib "dom") does not take; a request body is small to copy.
        body: Buffer.isBuffer(body) ? new Uint8Array(body) : (body ?? undefined),
        redirect: 'manual',
        signal: ctx?.signal ?? null,
      } as RequestInit)
    } catch (error) {
      this.#record(request, started, null, {}, undefined, error)
      throw proxyAuthFailure(error) ?? error
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
