/**
 * The console's error pages: the same status and stable code the API's
 * error mapping gives (src/plugins/errors.ts), shown as a page a person can
 * read, since the console's clients are browsers. 5xx details stay hidden.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { type ErrorCode, isBridgeError } from '../domain/errors.js'
import { httpStatusOf } from './errors.js'

export interface ConsoleFailure {
  status: number
  code: ErrorCode
  message: string
}

export function consoleFailureOf(error: FastifyError): ConsoleFailure {
  if (isBridgeError(error)) {
    const status = httpStatusOf(error.code)
    return { status, code: error.code, message: status >= 500 ? 'internal error' : error.message }
  }
  if (error.validation) {
    const v = error.validation[0]
    const field = `${error.validationContext ?? 'request'}${(v?.instancePath ?? '').replace(/\//g, '.')}`
    return { status: 400, code: 'VALIDATION_FAILED', message: `${field}: ${v?.message ?? 'is invalid'}` }
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, code: 'VALIDATION_FAILED', message: error.message }
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error' }
}

export function consoleErrorHandler(render: (failure: ConsoleFailure, request: FastifyRequest) => string) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const failure = consoleFailureOf(error)
    if (failure.status >= 500) request.log.error({ code: failure.code, err: error }, 'console request failed')
    if (isBridgeError(error) && error.code === 'TOO_MANY_ATTEMPTS') {
      reply.header('retry-after', String((error.details?.retryAfterSeconds as number | undefined) ?? 60))
    }
    return reply.code(failure.status).type('text/html; charset=utf-8').send(render(failure, request))
  }
}
