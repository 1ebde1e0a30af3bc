/**
 * API-key check: `Authorization: Bearer <key>`, compared in constant time
 * against every configured key (hashes first, so length leaks nothing).
 * Routes opt out with `config: { public: true }`; console pages with
 * `config: { auth: 'session' }` are authenticated by their session instead
 * (src/plugins/console-session.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { BridgeError } from '../domain/errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    public?: boolean
    /** Authenticated by a console session cookie instead of an API key. */
    auth?: 'session'
  }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/** The configured keys as the digests keyMatches() compares against. */
export const keyDigests = (keys: readonly string[]): Buffer[] => keys.map(digest)

export function keyMatches(presented: string, keys: readonly Buffer[]): boolean {
  const d = digest(presented)
  let ok = false
  for (const k of keys) ok = timingSafeEqual(d, k) || ok
  return ok
}

export default fp(
  async function apiKeyAuth(
    app: FastifyInstance,
    options: { apiKeys: readonly string[]; publicPrefixes?: string[] },
  ) {
    const keys = keyDigests(options.apiKeys)
    app.addHook('onRequest', async (request) => {
      const config = request.routeOptions.config
      if (config?.public || config?.auth === 'session') return
      if (request.is404) return
      const url = request.routeOptions.url ?? ''
      if (options.publicPrefixes?.some((p) => url === p || url.startsWith(`${p}/`))) return
      const header = request.headers.authorization ?? ''
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
      if (!match || keys.length === 0 || !keyMatches(match[1] as string, keys)) {
        throw new BridgeError('UNAUTHORIZED', 'a valid API key is required: Authorization: Bearer <key>')
      }
    })
  },
  { name: 'api-key-auth', dependencies: ['error-mapping'] },
)
