import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import { ErrorRef } from '../schemas/common.js'
import type { Bridge } from '../src/bridge.js'
import { toBridgeError } from '../src/domain/errors.js'

const health: FastifyPluginAsyncTypebox<{ bridge: Bridge; isShuttingDown: () => boolean }> = async (
  app,
  { bridge, isShuttingDown },
) => {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        operationId: 'getHealth',
        summary: 'Liveness: the process answers',
        tags: ['operations'],
        response: { 200: T.Ref('Health') },
      },
    },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        operationId: 'getReadiness',
        summary: 'Readiness: the store answers and Salesforce authentication works',
        tags: ['operations'],
        response: { 200: T.Ref('Readiness'), 503: T.Ref('Readiness') },
      },
    },
    async (_request, reply) => {
      const check = async (fn: () => Promise<void>) => {
        try {
          await fn()
          return 'ok'
        } catch (error) {
          return toBridgeError(error).code
        }
      }
      const [store, salesforce] = await Promise.all([
        check(() => bridge.store.ping()),
        check(() => bridge.sf.checkAuth()),
      ])
      const ready = !isShuttingDown() && store === 'ok' && salesforce === 'ok'
      // Paused for the API limit is still ready: work waits and resumes on its own.
      const pause = bridge.sf.apiLimitPause()
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'not_ready',
        checks: { store, salesforce },
        misconfiguredFlows: bridge.flowSchema.misconfigured(),
        ...(pause
          ? {
              apiLimitPause: {
                since: new Date(pause.since).toISOString(),
                probes: pause.probes,
                waiting: pause.waiting,
              },
            }
          : {}),
      })
    },
  )

  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'getMetrics',
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['operations'],
        response: {
          200: {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: T.String() } },
          },
          401: ErrorRef,
        },
      },
    },
    async (_request, reply) => {
      bridge.metrics.queueDepth(await bridge.exports.queuedWork())
      const usage = bridge.sf.apiUsage()
      if (usage) bridge.metrics.apiUsage(usage)
      return reply.type(bridge.metrics.contentType).send(await bridge.metrics.render())
    },
  )
}

export default health
