/**
 * Console sessions: a random 32-byte id is the cookie, the store keeps only
 * its SHA-256 (a leaked database signs nobody in), with an idle and an
 * absolute expiry. The CSRF token is an HMAC of the session id, so it is
 * per-session, needs no storage, and cannot be made without the cookie.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { ConsoleConfig } from '../config/schema.js'
import type { ConsoleSession, Store } from '../ports/store.js'

export interface ConsoleSessions {
  /** Starts a session; returns the id for the cookie (never stored as such). */
  signIn(): Promise<string>
  /** The live session of this cookie value (its idle clock restarted), or null. */
  resolve(sessionId: string): Promise<ConsoleSession | null>
  signOut(sessionId: string): Promise<void>
  csrfTokenOf(sessionId: string): string
}

export const newSecretToken = (): string => randomBytes(32).toString('base64url')

const hashOf = (sessionId: string) => createHash('sha256').update(sessionId, 'utf8').digest('hex')

/** Constant-time equality of two tokens (hashed first, so their lengths leak nothing). */
export function tokensMatch(expected: string, presented: string | undefined): boolean {
  if (!presented) return false
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()
  return timingSafeEqual(digest(expected), digest(presented))
}

export function createConsoleSessions(deps: {
  store: Store
  config: ConsoleConfig
  now: () => number
}): ConsoleSessions {
  const { store, config } = deps
  const times = () => {
    const now = deps.now()
    return { now: new Date(now).toISOString(), idleSince: new Date(now - config.idleTimeoutMs).toISOString() }
  }
  return {
    async signIn() {
      const at = times()
      // Sign-ins are rare: the moment to sweep sessions that ended, with no timer of its own.
      await store.deleteExpiredSessions(at)
      const sessionId = newSecretToken()
      await store.createSession({
        idHash: hashOf(sessionId),
        createdAt: at.now,
        lastSeenAt: at.now,
        expiresAt: new Date(deps.now() + config.maxSessionMs).toISOString(),
      })
      return sessionId
    },
    resolve: (sessionId) => store.touchSession(hashOf(sessionId), times()),
    signOut: (sessionId) => store.deleteSession(hashOf(sessionId)),
    csrfTokenOf: (sessionId) => createHmac('sha256', sessionId).update('console-csrf').digest('base64url'),
  }
}
