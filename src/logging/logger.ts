/**
 * The one logger factory. Redaction is by key, at any depth we log, so a
 * secret that reaches a log call by accident is still censored.
 */
import { type DestinationStream, type Logger, pino } from 'pino'

export const REDACTED_KEYS = [
  'password',
  'passphrase',
  'privateKey',
  'clientSecret',
  'client_secret',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'assertion',
  'apiKeys',
  'authorization',
  'Authorization',
  'signature',
  'policy',
  'x-amz-signature',
] as const

const paths = [
  ...REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
]

export interface LoggerOptions {
  level?: string
  destination?: DestinationStream
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths, censor: '[redacted]' },
    base: { service: 'sdrive-ftp-bridge' },
  }
  return options.destination ? pino(config, options.destination) : pino(config)
}
