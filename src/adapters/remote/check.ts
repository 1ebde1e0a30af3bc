/**
 * The endpoint check: one connection of its own (never the pool) that finds
 * out who answered, what the server offers, whether the directories flows use
 * are there and writable, and how far the server's clock is off.
 *
 * The server's identity is checked before logging in: an SFTP host key that
 * does not match the pin, or an FTPS certificate that does not verify while
 * the endpoint requires it, stops the check without sending credentials.
 * Failures land on the report as { code, message }; only programming errors throw.
 */
import type { Logger } from 'pino'
import type { EndpointConfig } from '../../config/schema.js'
import type { EndpointReport } from '../../ports/endpoint-check.js'
import { checkFtp } from './check-ftp.js'
import { checkSftp } from './check-sftp.js'
import { type CheckContext, describe, isProgrammingError, type Now } from './check-support.js'
import { absolutePath } from './paths.js'

export async function checkEndpoint(
  endpoint: EndpointConfig,
  directories: string[],
  logger: Logger,
  now: Now = Date.now,
): Promise<EndpointReport> {
  const started = now()
  const report: EndpointReport = {
    endpoint: endpoint.name,
    protocol: endpoint.protocol,
    host: endpoint.host,
    port: endpoint.port ?? defaultPort(endpoint.protocol),
    checkedAt: new Date(started).toISOString(),
    ok: false,
    connected: false,
    authenticated: false,
    serverIdentification: null,
    loginBanner: null,
    directories: [],
    warnings: [],
    timings: { connectMs: null, loginMs: null, featuresMs: null, directoriesMs: null, totalMs: 0 },
  }
  const context: CheckContext = { endpoint, directories: unique(directories), report, now }
  try {
    if (endpoint.protocol === 'sftp') await checkSftp(context)
    else await checkFtp(context)
  } catch (error) {
    if (isProgrammingError(error)) throw error
    report.error = describe(error)
  }
  report.timings.totalMs = now() - started
  report.ok =
    report.authenticated && report.error === undefined && report.directories.every((entry) => entry.ok)
  logger.info(
    {
      endpoint: endpoint.name,
      protocol: endpoint.protocol,
      ok: report.ok,
      code: report.error?.code,
      hostKey: report.hostKey?.fingerprint,
      certificate: report.tls?.certificate?.fingerprint256,
      totalMs: report.timings.totalMs,
    },
    'endpoint check finished',
  )
  return report
}

function defaultPort(protocol: EndpointConfig['protocol']): number {
  return protocol === 'sftp' ? 22 : protocol === 'ftps-implicit' ? 990 : 21
}

function unique(directories: string[]): string[] {
  return [...new Set(directories.map((dir) => absolutePath(dir)))]
}
