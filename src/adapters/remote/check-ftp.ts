/** The FTP / FTPS half of the endpoint check (see check.ts). */
import { posix } from 'node:path'
import { Readable } from 'node:stream'
import type { ConnectionOptions, TLSSocket } from 'node:tls'
import { FTPError, Client as FtpClient } from 'basic-ftp'
import { BridgeError } from '../../domain/errors.js'
import { describeProxy, proxyTarget } from '../../domain/proxy.js'
import type {
  ClockReport,
  DirectoryReport,
  FeatureEntry,
  FeatureSummary,
  TlsReport,
} from '../../ports/endpoint-check.js'
import {
  type CheckContext,
  describe,
  directoryOk,
  emptyFeatures,
  estimateClock,
  isProgrammingError,
  joinPath,
  PROBE_CONTENT,
  type ProbeTimes,
  probeName,
  withDeadline,
} from './check-support.js'
import { ftpError } from './ftp.js'
import { connectThroughProxy } from './ftp-proxy.js'
import { parseListDate } from './list-dates.js'

/** The lines between "211-…" and "211 End" of a FEAT reply. */
export function parseFeatReply(message: string): FeatureEntry[] {
  const lines = message.split(/\r?\n/)
  if (lines.length < 3) return []
  return lines
    .slice(1, -1)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const space = line.indexOf(' ')
      return space === -1
        ? { name: line.toUpperCase(), value: null }
        : { name: line.slice(0, space).toUpperCase(), value: line.slice(space + 1).trim() }
    })
}

export function summariseFtpFeatures(raw: FeatureEntry[]): FeatureSummary {
  const byName = new Map(raw.map((entry) => [entry.name, entry.value]))
  const summary = emptyFeatures(raw)
  summary.mlsd = byName.has('MLST') || byName.has('MLSD')
  summary.epsv = byName.has('EPSV')
  summary.utf8 = byName.has('UTF8')
  summary.size = byName.has('SIZE')
  summary.mdtm = byName.has('MDTM')
  summary.restStream = /\bSTREAM\b/i.test(byName.get('REST') ?? '')
  summary.hashCommands = ['HASH', 'XSHA1', 'XSHA256', 'XSHA512', 'XMD5', 'XCRC'].filter((name) =>
    byName.has(name),
  )
  summary.hashAlgorithms = (byName.get('HASH') ?? '')
    .split(';')
    .map((algorithm) => algorithm.trim().replace(/\*$/, ''))
    .filter((algorithm) => algorithm !== '')
  return summary
}

function certificateOf(socket: TLSSocket): TlsReport['certificate'] {
  const certificate = socket.getPeerX509Certificate()
  if (!certificate) return null
  const oneLine = (name: string) => name.split('\n').filter(Boolean).join(', ')
  const iso = (date: string) => {
    const parsed = new Date(date)
    return Number.isNaN(parsed.getTime()) ? date : parsed.toISOString()
  }
  return {
    subject: oneLine(certificate.subject),
    issuer: oneLine(certificate.issuer),
    validFrom: iso(certificate.validFrom),
    validTo: iso(certificate.validTo),
    fingerprint256: certificate.fingerprint256,
    serialNumber: certificate.serialNumber,
    subjectAltName: certificate.subjectAltName ?? null,
  }
}

function tlsReportOf(socket: TLSSocket): TlsReport {
  const error = socket.authorizationError as Error | string | null | undefined
  return {
    version: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.name ?? null,
    verified: socket.authorized,
    verificationError: socket.authorized
      ? null
      : typeof error === 'string'
        ? error
        : (error?.message ?? 'not verified'),
    certificate: certificateOf(socket),
  }
}

/** "213 YYYYMMDDHHMMSS[.sss]" (UTC, RFC 3659) → epoch ms and its precision. */
export function parseMdtmReply(message: string): { mtimeMs: number; precisionMs: number } | undefined {
  const match = /(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?\s*$/.exec(message.trim())
  if (!match) return undefined
  const [, year, month, day, hour, minute, second, fraction] = match
  const base = Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
  )
  if (!fraction) return { mtimeMs: base, precisionMs: 1000 }
  const digits = Math.min(fraction.length, 3)
  return {
    mtimeMs: base + Math.floor(Number(`0.${fraction}`) * 1000),
    precisionMs: 10 ** (3 - digits),
  }
}

export async function checkFtp(context: CheckContext): Promise<void> {
  const { endpoint, report, now } = context
  const secure = endpoint.protocol === 'ftp' ? false : endpoint.protocol === 'ftps' ? true : 'implicit'
  const tls = endpoint.tls ?? { rejectUnauthorized: true }
  const requireVerified = tls.rejectUnauthorized ?? true
  const secureOptions: ConnectionOptions = {
    host: endpoint.host,
    rejectUnauthorized: requireVerified,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.minVersion ? { minVersion: tls.minVersion } : {}),
    ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
  }
  if (!secure) report.warnings.push('plain FTP: the password and the files travel unencrypted')
  const client = new FtpClient(endpoint.operationTimeoutMs)
  client.ftp.encoding = endpoint.fileNameEncoding ?? 'utf8'
  const kill = () => client.close()
  const started = now()
  try {
    await withDeadline(
      (async () => {
        // The certificate is looked at before the login, so an untrusted one is still reported.
        const inspecting = { ...secureOptions, rejectUnauthorized: false }
        const welcome = endpoint.proxy
          ? await connectThroughProxy(client, { endpoint, secure, port: report.port }, inspecting, undefined)
          : secure === 'implicit'
            ? await client.connectImplicitTLS(endpoint.host, report.port, inspecting)
            : await client.connect(endpoint.host, report.port)
        if (endpoint.proxy) report.proxy = describeProxy(proxyTarget(endpoint.proxy))
        report.connected = true
        report.serverIdentification = welcome.message.trim()
        if (secure === true) await client.useTLS(inspecting)
        report.timings.connectMs = now() - started
        if (secure) {
          report.tls = tlsReportOf(client.ftp.socket as TLSSocket)
          report.timings.connectMs = now() - started
          if (!report.tls.verified && requireVerified) {
            throw new BridgeError(
              'TLS_CERTIFICATE_INVALID',
              `server certificate of ${endpoint.name} rejected: ${report.tls.verificationError}; not logging in`,
            )
          }
          if (!report.tls.verified) {
            report.warnings.push('the certificate does not verify and tls.rejectUnauthorized is false')
          }
          // Data connections verify as the adapter's do.
          client.ftp.tlsOptions = { ...secureOptions }
        }
        await client.sendIgnoringError('OPTS UTF8 ON')
        await client.login(endpoint.username, endpoint.password ?? '')
      })(),
      endpoint.connectTimeoutMs,
      `connecting to ${endpoint.name}`,
      kill,
    )
    report.authenticated = true
    report.timings.loginMs = now() - started - (report.timings.connectMs ?? 0)
  } catch (error) {
    client.close()
    const mapped = error instanceof BridgeError ? error : ftpError(error)
    if (mapped.code === 'REMOTE_AUTH_FAILED') {
      throw new BridgeError('REMOTE_AUTH_FAILED', `login to ${endpoint.name} failed: ${mapped.message}`)
    }
    throw mapped
  }

  try {
    const featuresStarted = now()
    const feat = await client.sendIgnoringError('FEAT')
    report.features = summariseFtpFeatures(feat.code < 400 ? parseFeatReply(feat.message) : [])
    await client.useDefaultSettings()
    report.timings.featuresMs = now() - featuresStarted

    const directoriesStarted = now()
    for (const path of context.directories) {
      const entry = await ftpDirectory(context, client, path)
      report.directories.push(entry)
      if (client.closed) {
        report.error = entry.error ?? {
          code: 'CONNECTION_LOST',
          message: `${endpoint.name} closed the connection`,
        }
        break
      }
    }
    report.timings.directoriesMs = now() - directoriesStarted
  } catch (error) {
    throw error instanceof BridgeError || isProgrammingError(error) ? error : ftpError(error)
  } finally {
    client.close()
  }
}

async function ftpIsDirectory(client: FtpClient, path: string): Promise<boolean> {
  try {
    await client.cd(path)
    return true
  } catch (error) {
    if (error instanceof FTPError) return false
    throw error
  }
}

async function ftpDirectory(
  context: CheckContext,
  client: FtpClient,
  path: string,
): Promise<DirectoryReport> {
  const { endpoint, report, now } = context
  const entry: DirectoryReport = {
    path,
    exists: false,
    isDirectory: false,
    writable: false,
    canRename: null,
    ok: false,
  }
  try {
    entry.isDirectory = await ftpIsDirectory(client, path)
    if (!entry.isDirectory) {
      const parent = posix.dirname(path)
      const siblings = (await ftpIsDirectory(client, parent)) ? await client.list(parent) : []
      entry.exists = siblings.some((info) => info.name === posix.basename(path))
      return entry
    }
    entry.exists = true
    const name = probeName(now)
    let probe = joinPath(path, name)
    const times: ProbeTimes = { before: now(), after: 0 }
    try {
      await client.uploadFrom(Readable.from([PROBE_CONTENT]), probe)
    } catch (error) {
      if (!(error instanceof FTPError)) throw error
      entry.error = describe(error)
      return entry
    }
    times.after = now()
    entry.writable = true
    let failure: unknown
    try {
      report.clock ??= await ftpClock(context, client, path, name, probe, times)
      if (endpoint.supportsRename) {
        const renamed = `${probe}.renamed`
        try {
          await client.rename(probe, renamed)
          probe = renamed
          entry.canRename = true
        } catch (error) {
          if (!(error instanceof FTPError)) throw error
          entry.canRename = false
          entry.error = describe(error)
        }
      }
    } catch (error) {
      failure = error
    }
    if (!client.closed) {
      try {
        await client.remove(probe)
      } catch (error) {
        if (!(error instanceof FTPError)) failure ??= error
        entry.writable = false
        entry.error = describe(error)
        entry.error.message = `${entry.error.message} (probe file ${probe} left behind)`
      }
    }
    if (failure !== undefined) throw failure
  } catch (error) {
    if (isProgrammingError(error)) throw error
    entry.error = describe(error)
  } finally {
    entry.ok = directoryOk(entry)
  }
  return entry
}

/** The probe file's mtime: MDTM where offered, else the listing (MLSD to the second, LIST to the minute). */
async function ftpClock(
  context: CheckContext,
  client: FtpClient,
  dir: string,
  name: string,
  probe: string,
  times: ProbeTimes,
): Promise<ClockReport | undefined> {
  const { report, now } = context
  if (report.features?.mdtm) {
    const reply = await client.sendIgnoringError(`MDTM ${probe}`)
    const parsed = reply.code === 213 ? parseMdtmReply(reply.message.replace(/^213\s*/, '')) : undefined
    if (parsed) return estimateClock(parsed.mtimeMs, parsed.precisionMs, times, 'MDTM', report)
  }
  const listed = (await client.list(dir)).find((info) => info.name === name)
  if (!listed) return undefined
  if (listed.modifiedAt) return estimateClock(listed.modifiedAt.getTime(), 1000, times, 'MLSD', report)
  const parsed = parseListDate(listed.rawModifiedAt, now())
  return parsed === undefined ? undefined : estimateClock(parsed, 60_000, times, 'LIST', report)
}
