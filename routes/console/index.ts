/**
 * The operator console at /console: server-rendered pages in a scope of
 * their own, with cookies, form bodies, session authentication, CSRF checks,
 * a strict Content-Security-Policy and HTML error pages — none of which
 * touch the JSON API. Hidden from the OpenAPI document.
 */
import cookie from '@fastify/cookie'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Bridge } from '../../src/bridge.js'
import { renderDocument } from '../../src/console/html.js'
import { errorPage } from '../../src/console/pages/error.js'
import { consoleErrorHandler } from '../../src/plugins/console-errors.js'
import consoleSession from '../../src/plugins/console-session.js'
import { createAttemptLimiter } from '../../src/services/attempt-limiter.js'
import { createConsoleSessions } from '../../src/services/console-sessions.js'
import consoleActions from './actions.js'
import consoleAssets from './assets.js'
import consoleAuth from './auth.js'
import consolePages from './pages.js'

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ')

const FORM_LIMIT_BYTES = 64 * 1024

const consoleRoutes: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  const settings = bridge.config.server.console
  const now = () => bridge.clock.now()
  const sessions = createConsoleSessions({ store: bridge.store, config: settings, now })
  const limiter = createAttemptLimiter({ perMinute: settings.signInAttemptsPerMinute, now })

  await app.register(cookie)
  await app.register(consoleSession, { sessions })
  // Forms post urlencoded bodies; the API never takes them, so the parser lives in this scope only.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_LIMIT_BYTES },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  )
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('x-frame-options', 'DENY')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cross-origin-opener-policy', 'same-origin')
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
  })
  app.setErrorHandler(
    consoleErrorHandler((failure, request) =>
      renderDocument(
        errorPage(failure.status, failure.code, failure.message, request.consoleSession?.csrf ?? null),
      ),
    ),
  )

  await app.register(consoleAssets)
  await app.register(consoleAuth, { bridge, sessions, limiter })
  await app.register(consolePages, { bridge })
  await app.register(consoleActions, { bridge })
}

export default consoleRoutes
