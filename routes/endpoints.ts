import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import { ErrorRef } from '../schemas/common.js'
import { EndpointParams } from '../schemas/endpoints.js'
import { checkEndpoint } from '../src/adapters/remote/check.js'
import { endpointDirectories } from '../src/adapters/remote/check-directories.js'
import type { Bridge } from '../src/bridge.js'
import { BridgeError } from '../src/domain/errors.js'

const endpoints: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  app.post(
    '/v1/endpoints/:name/check',
    {
      schema: {
        operationId: 'checkEndpoint',
        summary: 'Check an endpoint: identity, features, directories, clock',
        description:
          'Connects on a connection of its own, reports the SFTP host key or FTPS certificate, the ' +
          'server features, whether the directories its flows use exist and are writable, and the ' +
          'clock skew. A host key or certificate that does not check out stops it before the login. ' +
          'Answers 200 with ok false when something is wrong.',
        tags: ['operations'],
        params: EndpointParams,
        response: { 200: T.Ref('EndpointReport'), 400: ErrorRef, 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const endpoint = bridge.endpoints.get(request.params.name)
      if (!endpoint) {
        throw new BridgeError('NOT_FOUND', `endpoint "${request.params.name}" is not configured`)
      }
      const directories = endpointDirectories(bridge.config.flows, endpoint.name)
      return checkEndpoint(endpoint, directories, bridge.logger.child({ component: 'endpoint-check' }))
    },
  )
}

export default endpoints
