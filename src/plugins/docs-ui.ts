/**
 * Swagger UI at /docs, loaded on its first request. @fastify/swagger-ui, @fastify/static and
 * their modules cost ~1.6 MiB of heap and ~6 MiB of RSS in every process (measured, after GC)
 * though most deployments never open the page. Fastify takes no plugins once it is listening,
 * so the UI lives in a small Fastify instance of its own, built on the first request and
 * reached through `inject`; its `swagger()` is the main app's, so it shows the same document.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Fastify from 'fastify'
import fp from 'fastify-plugin'

export interface DocsUiOptions {
  routePrefix: string
  uiConfig?: Record<string, unknown>
}

/** Headers of the inner answer that the outer reply sets itself. */
const HOP_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'date', 'keep-alive'])

async function buildUi(app: FastifyInstance, options: DocsUiOptions): Promise<FastifyInstance> {
  const { default: swaggerUi } = await import('@fastify/swagger-ui')
  const ui = Fastify({ logger: false })
  // swagger-ui declares a dependency on the plugin named @fastify/swagger and calls swagger().
  await ui.register(
    fp(
      async (inner: FastifyInstance) => {
        inner.decorate('swagger', app.swagger.bind(app))
      },
      { name: '@fastify/swagger' },
    ),
  )
  await ui.register(swaggerUi, { routePrefix: options.routePrefix, uiConfig: options.uiConfig ?? {} })
  await ui.ready()
  return ui
}

export default async function docsUi(app: FastifyInstance, options: DocsUiOptions): Promise<void> {
  let ui: Promise<FastifyInstance> | null = null
  app.addHook('onClose', async () => {
    if (ui) await (await ui.catch(() => null))?.close()
  })
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    ui ??= buildUi(app, options).catch((error: unknown) => {
      ui = null
      throw error
    })
    const answer = await (await ui).inject({
      method: request.method as 'GET' | 'HEAD',
      url: request.url,
      headers: request.headers,
    })
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_HEADERS.has(name.toLowerCase())) reply.header(name, value)
    }
    reply.code(answer.statusCode)
    // An empty answer (a redirect) stays empty: a zero-length Buffer would be typed octet-stream.
    return answer.rawPayload.length > 0 ? reply.send(answer.rawPayload) : reply.send()
  }
  const route = { method: ['GET', 'HEAD'], handler, schema: { hide: true }, config: { public: true } }
  app.route({ ...route, url: options.routePrefix })
  app.route({ ...route, url: `${options.routePrefix}/*` })
}
