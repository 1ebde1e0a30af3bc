/**
 * Requests refused before a route sees them, answered in the same
 * `{"error": {"code", "message"}}` shape as everything else: Node's HTTP
 * parser (`clientError`: a request line or headers over `maxHeaderSize`, a
 * timeout, garbage) and Fastify's router (`frameworkErrors`: a path parameter
 * over `maxParamLength`, a URL that does not decode). Fastify's own answers
 * were `{"error": "Request Header Fields Too Large", "statusCode": 431}`.
 */
import { maxHeaderSize, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { ErrorCode } from '../domain/errors.js'
import { echoRequestId } from './request-id.js'

/** What Node's `clientError` carries (Fastify types `rawPacket` as a JSON-ified Buffer; it is a Buffer). */
type ParserError = Error & { code?: string; rawPacket?: unknown }

interface ClientFault {
  status: number
  code: ErrorCode
  message: string
}

const HTTP_METHOD = /^[A-Z]+ /

/** The parser's overflow is a long URL when the packet's first line alone is over the limit. */
function requestLineTooLong(packet: unknown): boolean {
  if (!Buffer.isBuffer(packet)) return false
  const head = packet.toString('latin1', 0, Math.min(packet.length, maxHeaderSize + 2))
  if (!HTTP_METHOD.test(head)) return false
  const lineEnd = head.indexOf('\r\n')
  return lineEnd === -1 || lineEnd >= maxHeaderSize
}

export function clientFaultOf(error: ParserError): ClientFault {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, code: 'TIMEOUT', message: 'the request was not received in time' }
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return requestLineTooLong(error.rawPacket)
      ? {
          status: 414,
          code: 'URI_TOO_LONG',
          message: `the request line is longer than ${maxHeaderSize} bytes`,
        }
      : {
          status: 431,
          code: 'HEADERS_TOO_LARGE',
          message: `the request headers are larger than ${maxHeaderSize} bytes`,
        }
  }
  return { status: 400, code: 'VALIDATION_FAILED', message: 'the request is not valid HTTP' }
}

/** Fastify's `clientErrorHandler` option: the socket has no request yet, so the answer is written raw. */
export function answerClientError(error: ParserError, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const { status, code, message } = clientFaultOf(error)
  const body = JSON.stringify({ error: { code, message } })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(error)
}

/** Fastify's `frameworkErrors` option: router faults, before any route or error handler. */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  // The router fails before any hook runs, so the id is echoed here.
  echoRequestId(request, reply)
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    reply
      .code(414)
      .send({ error: { code: 'URI_TOO_LONG', message: 'a path segment of the URL is too long' } })
    return
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    reply.code(400).send({ error: { code: 'VALIDATION_FAILED', message: 'the URL is not validly encoded' } })
    return
  }
  const status =
    error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400
  reply.code(status).send({ error: { code: 'VALIDATION_FAILED', message: 'the request cannot be routed' } })
}
