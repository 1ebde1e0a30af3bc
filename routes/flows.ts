import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import { ErrorRef, FlowParams } from '../schemas/common.js'
import type { Bridge } from '../src/bridge.js'
import { redactConfig } from '../src/config/load.js'
import { BridgeError } from '../src/domain/errors.js'

const flows: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  app.get(
    '/v1/flows',
    {
      schema: {
        operationId: 'listFlows',
        summary: 'Configured flows',
        tags: ['flows'],
        response: { 200: T.Ref('FlowList'), 401: ErrorRef },
      },
    },
    async () => ({
      flows: bridge.config.flows.map((f) => ({
        name: f.name,
        kind: f.kind,
        description: f.description ?? null,
        endpoint: f.kind === 'outbound' ? f.destination.endpoint : f.source.endpoint,
        directory: f.kind === 'outbound' ? f.destination.directory : f.source.directory,
        schedule: (f.kind === 'outbound' ? f.window?.cron : f.schedule?.cron) ?? null,
      })),
    }),
  )

  app.get(
    '/v1/flows/:flow',
    {
      schema: {
        operationId: 'getFlow',
        summary: 'One flow as configured, with its endpoint (secrets redacted)',
        tags: ['flows'],
        params: FlowParams,
        response: { 200: T.Ref('FlowDetail'), 400: ErrorRef, 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      // Per request: a configuration reload may have changed the flows since start-up.
      const redacted = redactConfig(bridge.config)
      const flow = redacted.flows.find((f) => f.name === request.params.flow)
      if (!flow) throw new BridgeError('NOT_FOUND', `flow "${request.params.flow}" is not configured`)
      const endpointName = flow.kind === 'outbound' ? flow.destination.endpoint : flow.source.endpoint
      const endpoint = redacted.endpoints[endpointName] ?? {}
      return { name: flow.name, flow: { ...flow }, endpoint: { ...endpoint } }
    },
  )
}

export default flows
