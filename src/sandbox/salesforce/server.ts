/** The one HTTP entry point: routes, session checks, API metering and injected faults. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Sessions } from './auth.js'
import { type DataApi, dataKind, parseDataPath } from './data-api.js'
import type { Faults, Usage } from './faults.js'
import {
  type ApiResult,
  BodyTooLargeError,
  readBody,
  s3Error,
  sdriveError,
  sfError,
  writeResult,
} from './http.js'
import type { SandboxNotifications } from './notifications.js'
import { faultResult, handleS3Get, handleS3Post, type S3Endpoint } from './s3-http.js'
import type { SDriveFiles } from './sdrive.js'
import type { FaultSpec, FaultTarget } from './types.js'

export interface SandboxParts {
  /** false: the S-Drive package is not installed, so its Apex REST resource does not exist. */
  sdriveInstalled: boolean
  sessions: Sessions
  usage: Usage
  faults: Faults
  data: DataApi
  sdrive: SDriveFiles
  s3: S3Endpoint
  notifications: SandboxNotifications
}

const SDRIVE_FILES_PATH = '/services/apexrest/cg/SDrive/files'

export function createRequestHandler(
  parts: SandboxParts,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(parts, req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy()
        return
      }
      writeResult(res, sfError(500, 'UNKNOWN_EXCEPTION', (error as Error).message))
    })
  }
}

async function route(parts: SandboxParts, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sandbox.invalid')
  const method = (req.method ?? 'GET').toUpperCase()
  const { pathname } = url
  if (pathname === '/services/oauth2/token' && method === 'POST') return token(parts, req, res)
  if (pathname === '/services/data' || pathname === '/services/data/') {
    return writeResult(res, {
      status: 200,
      body: [{ label: "Spring '25", url: '/services/data/v63.0', version: '63.0' }],
    })
  }
  const identity = /^\/id\/(00D[A-Za-z0-9]{12,15})\/(005[A-Za-z0-9]{12,15})$/.exec(pathname)
  if (identity && method === 'GET') {
    return metered(parts, req, res, 'identity', 'sobject', async () => ({
      status: 200,
      body: {
        organization_id: identity[1],
        user_id: identity[2],
        username: 'integration@sandbox.example',
        display_name: 'Bridge Integration',
        user_type: 'STANDARD',
        active: true,
      },
    }))
  }
  const data = parseDataPath(pathname)
  if (data) {
    const kind = dataKind(data.subPath) ?? 'sobject'
    const target: FaultTarget = kind === 'queryMore' ? 'query' : kind === 'limits' ? 'sobject' : kind
    return metered(parts, req, res, kind, target, async () => {
      const body = await readJson(req)
      if (body === PARSE_ERROR) return sfError(400, 'JSON_PARSER_ERROR', 'The request body is not valid JSON')
      return parts.data.handle({
        method,
        subPath: data.subPath,
        search: url.searchParams,
        queryOptionsHeader: header(req, 'sforce-query-options'),
        body,
        apiVersion: data.apiVersion,
      })
    })
  }
  if (pathname.startsWith('/services/apexrest/')) {
    return metered(parts, req, res, `apex:${method}`, 'apex', async () => {
      if (!parts.sdriveInstalled || pathname.replace(/\/$/, '') !== SDRIVE_FILES_PATH) {
        return sdriveError(404, 'NOT_FOUND', `Could not find a match for URL ${pathname}`)
      }
      return parts.sdrive.handle(method, url.searchParams, await readBody(req))
    })
  }
  if (pathname.startsWith('/sandbox/')) return sandboxRoute(parts, req, res, pathname, method)
  const s3 = /^\/s3\/([^/]+)(?:\/(.*))?$/.exec(pathname)
  if (s3) return s3Request(parts, req, res, url, s3[1]!, s3[2] ?? '')
  req.resume()
  writeResult(res, sfError(404, 'NOT_FOUND', 'The requested resource does not exist'))
}

/** The sandbox's own pages: the webhook receiver, and what the org was asked to send (for the demo). */
async function sandboxRoute(
  parts: SandboxParts,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  method: string,
): Promise<void> {
  const { notifications } = parts
  const hook = /^\/sandbox\/webhooks\/([A-Za-z0-9_-]+)$/.exec(pathname)
  if (hook && method === 'POST') {
    return writeResult(res, notifications.receive(hook[1]!, req.headers, await readBody(req, 1024 * 1024)))
  }
  req.resume()
  if (method !== 'GET') return writeResult(res, sfError(405, 'METHOD_NOT_ALLOWED', `${method} not allowed`))
  if (pathname === '/sandbox/emails') return writeResult(res, { status: 200, body: notifications.emails })
  if (pathname === '/sandbox/webhooks')
    return writeResult(res, { status: 200, body: notifications.deliveries })
  if (pathname === '/sandbox/platform-events') {
    return writeResult(res, { status: 200, body: notifications.platformEvents })
  }
  writeResult(res, sfError(404, 'NOT_FOUND', 'The requested resource does not exist'))
}

async function token(parts: SandboxParts, req: IncomingMessage, res: ServerResponse): Promise<void> {
  parts.usage.count('token')
  const fault = parts.faults.take('token', 'POST')
  const form = new URLSearchParams(await readBody(req, 1024 * 1024))
  if (fault) {
    const body = fault.body ?? { error: 'unknown_error', error_description: 'retry your request' }
    return writeResult(res, { status: fault.status, body })
  }
  writeResult(res, parts.sessions.handleTokenRequest(form, header(req, 'authorization')))
}

/** Session check, daily limit, usage header and faults, shared by every counted API call. */
async function metered(
  parts: SandboxParts,
  req: IncomingMessage,
  res: ServerResponse,
  kind: string,
  target: FaultTarget,
  handler: () => Promise<ApiResult>,
): Promise<void> {
  const { usage, sessions, faults } = parts
  usage.count(kind)
  const respond = (result: ApiResult) => {
    req.resume()
    writeResult(res, { ...result, headers: { ...result.headers, 'Sforce-Limit-Info': usage.header() } })
  }
  const auth = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(header(req, 'authorization') ?? '')
  if (!auth || !sessions.isValid(auth[1]!.trim())) {
    return respond(sfError(401, 'INVALID_SESSION_ID', 'Session expired or invalid'))
  }
  if (usage.exhausted())
    return respond(sfError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'))
  usage.used += 1
  const fault = faults.take(target, (req.method ?? 'GET').toUpperCase())
  if (fault) return respond(apiFault(fault, target))
  try {
    respond(await handler())
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error
    respond(sfError(413, 'REQUEST_ENTITY_TOO_LARGE', error.message))
  }
}

function apiFault(fault: FaultSpec, target: FaultTarget): ApiResult {
  if (fault.body !== undefined) return { status: fault.status, body: fault.body }
  const message = fault.message ?? 'Injected fault'
  if (fault.errorCode !== undefined) return sfError(fault.status, fault.errorCode, message)
  if (target === 'apex' && fault.status >= 500) return sdriveError(fault.status, 'APEX_ERROR', message)
  const code =
    fault.status === 503
      ? 'SERVER_UNAVAILABLE'
      : fault.status >= 500
        ? 'UNKNOWN_EXCEPTION'
        : 'REQUEST_REFUSED'
  return sfError(fault.status, code, message)
}

function s3Request(
  parts: SandboxParts,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  bucket: string,
  key: string,
): void {
  const method = (req.method ?? 'GET').toUpperCase()
  parts.usage.count('s3')
  const endpoint = parts.s3
  const fault = parts.faults.take('s3', method)
  if (bucket !== endpoint.bucket) {
    req.resume()
    writeResult(res, s3Error(404, 'NoSuchBucket', 'The specified bucket does not exist'))
  } else if (method === 'POST' && key === '') {
    handleS3Post(endpoint, req, res, fault)
  } else if (fault) {
    req.resume()
    writeResult(res, faultResult(fault))
  } else if ((method === 'GET' || method === 'HEAD') && key !== '') {
    handleS3Get(endpoint, req, res, url, decodeURIComponent(key))
  } else {
    req.resume()
    writeResult(
      res,
      s3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.'),
    )
  }
}

const PARSE_ERROR = Symbol('parse error')

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req)
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return PARSE_ERROR
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}
