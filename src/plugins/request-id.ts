/**
 * `X-Request-Id`: a caller's id (printable ASCII, at most 128 characters) is
 * taken as the request's id, so its log lines can be found by it; anything
 * else gets a fresh one. Every answer carries the id back, errors and the
 * SSE stream included, so a caller can quote it when asking about a call.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

export const REQUEST_ID_HEADER = 'x-request-id'

const ACCEPTED_ID = /^[\x20-\x7e]{1,128}$/

/** Fastify's `genReqId`: the caller's id when acceptable, else a fresh UUID. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER]
  return typeof given === 'string' && ACCEPTED_ID.test(given) ? given : randomUUID()
}

/** On the raw response, so that a hijacked reply (the SSE stream) carries it too. */
export function echoRequestId(request: FastifyRequest, reply: FastifyReply): void {
  reply.raw.setHeader(REQUEST_ID_HEADER, request.id)
}

export default fp(
  async function requestId(app: FastifyInstance) {
    app.addHook('onRequest', async (request, reply) => echoRequestId(request, reply))
  },
  { name: 'request-id' },
)
