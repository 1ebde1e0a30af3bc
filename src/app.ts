/**
 * The application as a plugin: external plugins, then ours, then routes,
 * in that order. It creates nothing that listens; src/server.ts does.
 */
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import adminRoutes from '../routes/admin.js'
import auditRoutes from '../routes/audit.js'
import consoleRoutes from '../routes/console/index.js'
import endpointRoutes from '../routes/endpoints.js'
import exportRoutes from '../routes/exports.js'
import flowRoutes from '../routes/flows.js'
import healthRoutes from '../routes/health.js'
import notificationRoutes from '../routes/notifications.js'
import orgCheckRoutes from '../routes/org-check.js'
import outboundMessageRoutes from '../routes/outbound-messages.js'
import rejectionRoutes from '../routes/rejections.js'
import runEventRoutes from '../routes/run-events.js'
import runRoutes from '../routes/runs.js'
import { sharedSchemas } from '../schemas/index.js'
import type { Bridge } from './bridge.js'
import auth from './plugins/auth.js'
import docsUi from './plugins/docs-ui.js'
import errors from './plugins/errors.js'
import requestId from './plugins/request-id.js'

export interface AppOptions {
  bridge: Bridge
  isShuttingDown?: () => boolean
}

export const openApiInfo = {
  title: 'sdrive-ftp-bridge',
  description:
    'Moves documents between FTP/FTPS/SFTP servers and S-Drive (Salesforce). Every call but health, readiness and the documentation needs `Authorization: Bearer <API key>`.',
  version: '1.0.0',
}

export default fp(
  async function bridgeApp(app: FastifyInstance, options: AppOptions) {
    const { bridge } = options
    for (const schema of sharedSchemas) app.addSchema(schema)
    // Fastify parses text/plain bodies by default, so a JSON route sent text/plain failed body
    // validation (400) instead of 415; routes that take text declare their own parser.
    app.removeContentTypeParser('text/plain')
    await app.register(requestId)
    await app.register(errors)
    await app.register(auth, { apiKeys: bridge.config.server.apiKeys, publicPrefixes: ['/docs'] })

    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: openApiInfo,
        components: {
          securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'API key' } },
        },
        security: [{ apiKey: [] }],
        tags: [
          { name: 'runs', description: 'Inbound runs and their files' },
          { name: 'exports', description: 'Outbound exports to FTP/SFTP and Salesforce Outbound Messages' },
          { name: 'flows', description: 'Configured flows' },
          { name: 'operations', description: 'Health, readiness, metrics' },
          { name: 'audit', description: 'File outcomes for auditors' },
          { name: 'notifications', description: 'The notification outbox' },
        ],
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    })
    await app.register(docsUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } })

    app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger())
    await app.register(healthRoutes, { bridge, isShuttingDown: options.isShuttingDown ?? (() => false) })
    await app.register(flowRoutes, { bridge })
    await app.register(runRoutes, { bridge })
    await app.register(runEventRoutes, { bridge })
    await app.register(exportRoutes, { bridge })
    await app.register(outboundMessageRoutes, { bridge })
    await app.register(endpointRoutes, { bridge })
    await app.register(rejectionRoutes, { bridge })
    await app.register(auditRoutes, { bridge })
    await app.register(orgCheckRoutes, { bridge })
    await app.register(adminRoutes, { bridge })
    await app.register(notificationRoutes, { bridge })
    // Its own scope: cookies, form bodies, sessions, CSP and HTML errors stay out of the API.
    if (bridge.config.server.console.enabled) await app.register(consoleRoutes, { bridge })
  },
  { name: 'sdrive-ftp-bridge' },
)
