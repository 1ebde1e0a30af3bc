/**
 * The one set of Fastify options, used by the server and by tests alike, so
 * validation in tests is the validation in production.
 */
import type { FastifyServerOptions } from 'fastify'
import type { Logger } from 'pino'
import type { LoadedConfig } from './config/load.js'
import { AccessLog } from './plugins/access-log.js'
import { answerClientError, answerFrameworkError } from './plugins/client-errors.js'
import { requestIdOf } from './plugins/request-id.js'
import { buildRequestValidator } from './request-validation.js'

export function buildServerOptions(config: LoadedConfig, logger: Logger): FastifyServerOptions {
  return {
    loggerInstance: logger,
    logController: new AccessLog(),
    // The caller's X-Request-Id when it is acceptable (src/plugins/request-id.ts).
    genReqId: requestIdOf,
    bodyLimit: config.server.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    // Apex callouts give up at 120 s; nothing we answer should come near that.
    requestTimeout: 30_000,
    connectionTimeout: 30_000,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // 414, 431, 408 and malformed requests in the API's error shape (src/plugins/client-errors.ts).
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    // Coercion (`coerceTypes: 'array'`) for the querystring, params and headers only; a
    // JSON body is validated as sent (src/request-validation.ts).
    ajv: {
      customOptions: {
        allErrors: false,
        useDefaults: true,
        removeAdditional: false,
      },
    },
    schemaController: { compilersFactory: { buildValidator: buildRequestValidator } },
  }
}
