/**
 * The console's one stylesheet and one script, read once from public/console/
 * (found from the package root, so it works from src/ with tsx and from
 * dist/ alike) and served with their type, an ETag and an hour of caching.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import { BridgeError } from '../../src/domain/errors.js'
import { CONSOLE_PATH } from '../../src/plugins/console-session.js'

const TYPES = { 'console.css': 'text/css; charset=utf-8', 'console.js': 'text/javascript; charset=utf-8' }
type AssetName = keyof typeof TYPES

function packageRoot(from: string): string {
  let dir = from
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`no package.json above ${from}`)
    dir = parent
  }
  return dir
}

export function readConsoleAssets(): Map<string, { body: Buffer; type: string; etag: string }> {
  const dir = join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'public', 'console')
  return new Map(
    (Object.keys(TYPES) as AssetName[]).map((name) => {
      const body = readFileSync(join(dir, name))
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
      return [name, { body, type: TYPES[name], etag }]
    }),
  )
}

const consoleAssets: FastifyPluginAsyncTypebox = async (app) => {
  const assets = readConsoleAssets()
  app.get(
    `${CONSOLE_PATH}/assets/:name`,
    {
      config: { public: true },
      schema: { hide: true, params: T.Object({ name: T.String({ maxLength: 40 }) }) },
    },
    async (request, reply) => {
      const asset = assets.get(request.params.name)
      if (!asset) throw new BridgeError('NOT_FOUND', `no console asset ${request.params.name}`)
      reply.header('cache-control', 'public, max-age=3600').header('etag', asset.etag)
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send()
      return reply.type(asset.type).send(asset.body)
    },
  )
}

export default consoleAssets
