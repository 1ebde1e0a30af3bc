/**
 * Sign-in and sign-out. The sign-in form carries a pre-session token that
 * must equal its cookie (double submit), so a page elsewhere cannot sign a
 * browser into an attacker's session. The API key is checked like the API's
 * (constant time), rate-limited per client, and never stored or logged.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ConsoleForm, SignInForm } from '../../schemas/console.js'
import type { Bridge } from '../../src/bridge.js'
import { renderDocument } from '../../src/console/html.js'
import { signInPage } from '../../src/console/pages/sign-in.js'
import { BridgeError } from '../../src/domain/errors.js'
import { keyDigests, keyMatches } from '../../src/plugins/auth.js'
import { CONSOLE_PATH, consoleCookie, SESSION_COOKIE } from '../../src/plugins/console-session.js'
import type { AttemptLimiter } from '../../src/services/attempt-limiter.js'
import { type ConsoleSessions, newSecretToken, tokensMatch } from '../../src/services/console-sessions.js'

export const LOGIN_COOKIE = 'bridge_console_login'
/** The sign-in form's token lives as long as someone may take to type a key. */
const LOGIN_TOKEN_SECONDS = 600

const consoleAuth: FastifyPluginAsyncTypebox<{
  bridge: Bridge
  sessions: ConsoleSessions
  limiter: AttemptLimiter
}> = async (app, { bridge, sessions, limiter }) => {
  const keys = keyDigests(bridge.config.server.apiKeys)
  const html = { 'content-type': 'text/html; charset=utf-8' }

  app.get(
    `${CONSOLE_PATH}/sign-in`,
    { config: { public: true }, schema: { hide: true } },
    async (request, reply) => {
      const token = newSecretToken()
      reply.setCookie(LOGIN_COOKIE, token, consoleCookie(request, LOGIN_TOKEN_SECONDS))
      return reply.headers(html).send(renderDocument(signInPage(token)))
    },
  )

  app.post(
    `${CONSOLE_PATH}/sign-in`,
    { config: { public: true }, schema: { hide: true, body: SignInForm } },
    async (request, reply) => {
      const wait = limiter.attempt(request.ip)
      if (wait > 0) {
        throw new BridgeError('TOO_MANY_ATTEMPTS', 'too many sign-in attempts; wait a minute', {
          details: { retryAfterSeconds: wait },
        })
      }
      const expected = request.cookies[LOGIN_COOKIE]
      if (!expected || !tokensMatch(expected, request.body._csrf)) {
        throw new BridgeError('CSRF_INVALID', '_csrf: the sign-in form is stale; load it again')
      }
      const presented = request.body.apiKey ?? ''
      if (keys.length === 0 || !keyMatches(presented, keys)) {
        request.log.info({ ip: request.ip }, 'console sign-in refused')
        return reply
          .code(401)
          .headers(html)
          .send(renderDocument(signInPage(expected, 'apiKey: that API key is not accepted')))
      }
      const sessionId = await sessions.signIn()
      request.log.info({ ip: request.ip }, 'console sign-in')
      reply.clearCookie(LOGIN_COOKIE, consoleCookie(request))
      reply.setCookie(SESSION_COOKIE, sessionId, consoleCookie(request))
      return reply.redirect(CONSOLE_PATH, 303)
    },
  )

  app.post(
    `${CONSOLE_PATH}/sign-out`,
    { config: { auth: 'session' }, schema: { hide: true, body: ConsoleForm } },
    async (request, reply) => {
      const session = request.consoleSession
      if (session) await sessions.signOut(session.id)
      reply.clearCookie(SESSION_COOKIE, consoleCookie(request))
      return reply.redirect(`${CONSOLE_PATH}/sign-in`, 303)
    },
  )
}

export default consoleAuth
