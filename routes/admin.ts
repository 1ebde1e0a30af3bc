/** Operations on the running service: reloading its configuration file. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import { ErrorRef } from '../schemas/common.js'
import type { Bridge } from '../src/bridge.js'

const admin: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  app.post(
    '/v1/admin/reload',
    {
      schema: {
        operationId: 'startConfigurationReload',
        summary: 'Re-read the configuration file: flows and endpoints apply without a restart',
        description:
          'What SIGHUP does: the file is read (with ${VAR} expansion) and validated as at start-up. ' +
          'Added flows and endpoints start; removed ones stop after their work in flight; changed ones apply ' +
          'from their next run, and a changed endpoint gets a new connection pool (transfers in flight finish ' +
          'on the old one). An invalid file answers 400 CONFIG_INVALID with every problem by key path, and the ' +
          'running configuration stays. Reloads run one at a time. Each replica reloads its own file.',
        tags: ['operations'],
        response: { 200: T.Ref('ReloadResult'), 400: ErrorRef, 401: ErrorRef, 409: ErrorRef },
      },
    },
    async () => bridge.reload('api'),
  )
}

export default admin
