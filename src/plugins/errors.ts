/** One mapping from errors to HTTP. Routes throw; they never build error bodies. */
import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { type ErrorCode, isBridgeError } from '../domain/errors.js'

const statusOf: Partial<Record<ErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  QUEUE_FULL: 429,
  CONFIG_INVALID: 400,
  FLOW_MISCONFIGURED: 409,
  FLOW_REMOVED: 409,
  IDEMPOTENCY_KEY_RESERVED: 400,
  CSRF_INVALID: 403,
  TOO_MANY_ATTEMPTS: 429,
  UNSUPPORTED_MEDIA_TYPE: 415,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
}

export function httpStatusOf(code: ErrorCode): number {
  return statusOf[code] ?? 500
}

function fieldOf(error: FastifyError): string {
  const v = error.validation?.[0]
  if (!v) return ''
  const missing = (v.params as { missingProperty?: string; additionalProperty?: string } | undefined) ?? {}
  const base = `${error.validationContext ?? 'request'}${v.instancePath.replace(/\//g, '.')}`
  if (missing.missingProperty) return `${base}.${missing.missingProperty}`
  if (missing.additionalProperty) return `${base}.${missing.additionalProperty}`
  return base
}

export default fp(
  async function errorMapping(app: FastifyInstance) {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (isBridgeError(error)) {
        const status = httpStatusOf(error.code)
        if (error.code === 'QUEUE_FULL' || error.code === 'TOO_MANY_ATTEMPTS') {
          reply.header('retry-after', String((error.details?.retryAfterSeconds as number | undefined) ?? 30))
        }
        if (status >= 500) {
          request.log.error({ code: error.code, err: error }, 'request failed')
          return reply.code(status).send({ error: { code: error.code, message: 'internal error' } })
        }
        return reply.code(status).send({
          error: {
            code: error.code,
            message: error.message,
            ...(error.details ? { details: error.details } : {}),
          },
        })
      }
      if (error.validation) {
        const field = fieldOf(error)
        return reply.code(400).send({
          error: {
            code: 'VALIDATION_FAILED',
            message: `${field}: ${error.validation[0]?.message ?? 'is invalid'}`,
            details: { field },
          },
        })
      }
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return reply
          .code(413)
          .send({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body is too large' } })
      }
      if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        const type = String(request.headers['content-type'] ?? '').split(';')[0]
        return reply.code(415).send({
          error: {
            code: 'UNSUPPORTED_MEDIA_TYPE',
            message: `content-type ${JSON.stringify(type)} is not accepted here; send application/json`,
            details: { field: 'headers.content-type' },
          },
        })
      }
      if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
        return reply.code(error.statusCode).send({
          error: { code: 'VALIDATION_FAILED', message: error.message },
        })
      }
      request.log.error({ err: error }, 'unexpected error')
      return reply.code(500).send({ error: { code: 'INTERNAL', message: 'internal error' } })
    })
    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send({
        error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` },
      }),
    )
  },
  { name: 'error-mapping' },
)
