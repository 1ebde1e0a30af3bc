/** What the SFTP and FTP halves of the endpoint check share: context, deadlines, errors, clock, probe names. */
import { randomBytes } from 'node:crypto'
import { FTPError } from 'basic-ftp'
import type { EndpointConfig } from '../../config/schema.js'
import { BridgeError } from '../../domain/errors.js'
import type {
  ClockReport,
  DirectoryReport,
  EndpointCheckError,
  EndpointReport,
  FeatureEntry,
  FeatureSummary,
} from '../../ports/endpoint-check.js'
import { timeoutError, transportError } from './failures.js'
import { ftpError } from './ftp.js'

export const PROBE_CONTENT = Buffer.from('sdrive-ftp-bridge endpoint check: safe to delete\n')
export const SFTP_NO_SUCH_FILE = 2
export const SFTP_PERMISSION_DENIED = 3
/** Skew beyond half the mtime precision plus this many seconds is worth a warning. */
const SKEW_WARNING_SECONDS = 5

export type Now = () => number

export interface CheckContext {
  endpoint: EndpointConfig
  directories: string[]
  report: EndpointReport
  now: Now
}

export interface ProbeTimes {
  before: number
  after: number
}

export function isProgrammingError(error: unknown): boolean {
  if (error instanceof BridgeError) return false
  const programming =
    error instanceof TypeError ||
    error instanceof ReferenceError ||
    error instanceof RangeError ||
    error instanceof SyntaxError
  return programming && (error as { code?: unknown }).code === undefined
}

export function describe(error: unknown): EndpointCheckError {
  const mapped = error instanceof BridgeError ? error : (transportError(error) ?? genericError(error))
  return { code: mapped.code, message: mapped.message }
}

function genericError(error: unknown): BridgeError {
  if (error instanceof FTPError) return ftpError(error)
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  if (code === SFTP_NO_SUCH_FILE) return new BridgeError('REMOTE_NOT_FOUND', message, { cause: error })
  if (code === SFTP_PERMISSION_DENIED) {
    return new BridgeError('REMOTE_PERMISSION_DENIED', message, { cause: error })
  }
  return new BridgeError('REMOTE_IO', message, { cause: error })
}

/** Rejects with TIMEOUT after `ms`, having called `kill` so the stuck connection lets go. */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string, kill: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      kill()
      reject(timeoutError(what, ms))
    }, ms)
  })
  return Promise.race([work, expired]).finally(() => clearTimeout(timer))
}

export function probeName(now: Now): string {
  return `.sdrive-ftp-bridge-check-${now()}-${randomBytes(6).toString('hex')}.tmp`
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`
}

/** Server time minus local time from an mtime truncated to `precisionMs`, set between `times`. */
export function estimateClock(
  mtimeMs: number,
  precisionMs: number,
  times: ProbeTimes,
  source: string,
  report: EndpointReport,
): ClockReport {
  const local = (times.before + times.after) / 2
  const skewSeconds = Math.round(mtimeMs + precisionMs / 2 - local) / 1000
  const precisionSeconds = precisionMs / 1000
  if (Math.abs(skewSeconds) > precisionSeconds / 2 + SKEW_WARNING_SECONDS) {
    report.warnings.push(
      `the server clock is about ${Math.abs(skewSeconds)} s ${skewSeconds > 0 ? 'ahead' : 'behind'} ` +
        '(file ages used by readiness checks shift by as much)',
    )
  }
  return {
    skewSeconds,
    precisionSeconds,
    source,
    serverTime: new Date(mtimeMs).toISOString(),
    localTime: new Date(local).toISOString(),
  }
}

export function emptyFeatures(raw: FeatureEntry[]): FeatureSummary {
  return {
    raw,
    mlsd: false,
    epsv: false,
    utf8: false,
    size: false,
    mdtm: false,
    restStream: false,
    hashCommands: [],
    hashAlgorithms: [],
    posixRename: false,
    statvfs: false,
    hardlink: false,
    fsync: false,
    checkFile: false,
  }
}

export function directoryOk(entry: DirectoryReport): boolean {
  return entry.exists && entry.isDirectory && entry.writable && entry.canRename !== false && !entry.error
}

export function isConnectionLoss(error: EndpointCheckError): boolean {
  return error.code === 'CONNECTION_LOST' || error.code === 'TIMEOUT'
}
