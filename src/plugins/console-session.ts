/**
 * The console's authentication: routes with `config: { auth: 'session' }`
 * need a live session cookie (else a GET is sent to the sign-in page with
 * 303), and every POST among them the session's CSRF token, in the `_csrf`
 * form field or the X-CSRF-Token header, compared in constant time (else
 * 403 CSRF_INVALID). Registered inside the console's scope only.
 */

import type {} from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { BridgeError } from '../domain/errors.js'
import { type ConsoleSessions, tokensMatch } from '../services/console-sessions.js'

export const SESSION_COOKIE = 'bridge_console'
export const CONSOLE_PATH = '/console'

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in console session of this request (routes with auth 'session' only). */
    consoleSession: { id: string; csrf: string } | null
  }
}

/** Cookie attributes of every console cookie: `Secure` when the client reached us over TLS. */
export function consoleCookie(request: FastifyRequest, maxAgeSeconds?: number) {
  return {
    path: CONSOLE_PATH,
    httpOnly: true,
    sameSite: 'strict' as const,
    // request.protocol follows X-Forwarded-Proto only when server.trustProxy is on.
    secure: request.protocol === 'https',
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  }
}

/** The CSRF token of the request's session, for the forms of the page it renders. */
export function csrfOf(request: Pick<FastifyRequest, 'consoleSession'>): string {
  if (!request.consoleSession) throw new BridgeError('UNAUTHORIZED', 'sign in to the console')
  return request.consoleSession.csrf
}

function presentedCsrf(request: FastifyRequest): string | undefined {
  const body = request.body as Record<string, unknown> | undefined
  const field = body && typeof body._csrf === 'string' ? body._csrf : undefined
  const header = request.headers['x-csrf-token']
  return field ?? (typeof header === 'string' ? header : undefined)
}

export default fp(
  async function consoleSession(app: FastifyInstance, options: { sessions: ConsoleSessions }) {
    app.decorateRequest('consoleSession', null)
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.routeOptions.config?.auth !== 'session') return
      const id = request.cookies[SESSION_COOKIE]
      const session = id ? await options.sessions.resolve(id) : null
      if (!id || !session) {
        if (id) reply.clearCookie(SESSION_COOKIE, consoleCookie(request))
        return reply.redirect(`${CONSOLE_PATH}/sign-in`, 303)
      }
      request.consoleSession = { id, csrf: options.sessions.csrfTokenOf(id) }
    })
    // After the body is parsed (the token may be a form field), before the handler runs.
    app.addHook('preHandler', async (request: FastifyRequest) => {
      if (request.routeOptions.config?.auth !== 'session' || request.method !== 'POST') return
      const session = request.consoleSession
      if (!session || !tokensMatch(session.csrf, presentedCsrf(request))) {
        throw new BridgeError('CSRF_INVALID', '_csrf: the form is stale or was not sent by the console')
      }
    })
  },
  { name: 'console-session', dependencies: ['@fastify/cookie'] },
)
