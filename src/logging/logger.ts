/**
 * The one logger factory. Redaction is by key at any depth (src/logging/redact.ts
 * walks each logged object; pino's `redact` paths stop at a fixed depth), and a
 * logged URL's credential query parameters are censored, so a secret that
 * reaches a log call by accident is still censored.
 */
import { type DestinationStream, type Logger, pino } from 'pino'
import { REDACTED_KEYS, redactDeep, redactUrlQuery } from './redact.js'

export { REDACTED_KEYS }

/** Keys that have a serializer: they are redacted after it runs, not walked raw (a request object is huge). */
const SERIALIZED_KEYS = new Set(['err', 'req', 'res'])

interface LoggedRequest {
  method?: string
  url?: string
  host?: string
  ip?: string
  headers?: Record<string, unknown>
  socket?: { remotePort?: number }
}

const serializers = {
  err: (error: unknown) => redactDeep(pino.stdSerializers.err(error as Error)),
  // Fastify's request serializer, with the URL's query redacted and no headers.
  req: (req: LoggedRequest) => ({
    method: req.method,
    url: typeof req.url === 'string' ? redactUrlQuery(req.url) : req.url,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
  res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }),
}

export interface LoggerOptions {
  level?: string
  destination?: DestinationStream
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    serializers,
    formatters: {
      log: (object: Record<string, unknown>) => redactDeep(object, SERIALIZED_KEYS),
    },
    base: { service: 'sdrive-ftp-bridge' },
  }
  const logger = options.destination ? pino(config, options.destination) : pino(config)
  return withRedactedBindings(logger)
}

/**
 * pino applies `formatters.bindings` to the root's base only, not to a
 * child's bindings; so `child` is wrapped (children inherit the wrapper
 * through their prototype) and redacts the bindings before pino stores them.
 */
function withRedactedBindings(logger: Logger): Logger {
  const pinoChild = logger.child
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return pinoChild.call(this, redactDeep(bindings), childOptions)
  } as Logger['child']
  return logger
}
