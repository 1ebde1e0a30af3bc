import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Static, Type as T } from '@sinclair/typebox'
import { ErrorRef } from '../schemas/common.js'
import type { OrgCheckRequestBody } from '../schemas/org-check.js'
import type { Bridge } from '../src/bridge.js'
import { BridgeError } from '../src/domain/errors.js'
import { runOrgCheck } from '../src/org-check.js'

const orgCheck: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  app.post(
    '/v1/admin/check-org',
    {
      schema: {
        operationId: 'checkOrg',
        summary: 'Probe the Salesforce org: identity, S-Drive, schema, access, variants',
        description:
          'The report of `sdrive-ftp-bridge check-org`: login, user, org, edition, API version and usage, ' +
          "S-Drive's package and files resource, the S3 upload URL, every object and field the flows name " +
          "(type and the run-as user's access), the variant of each open S-Drive point and a suggested " +
          'sdrive: block. Read-only unless write is true, which uploads a probe file to recordId, reads it ' +
          'back and removes it. Answers 200 with verdict wrong when a flow would fail.',
        tags: ['operations'],
        body: T.Ref('OrgCheckRequestBody'),
        response: { 200: T.Ref('OrgCheckReport'), 400: ErrorRef, 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const body = request.body as Static<typeof OrgCheckRequestBody>
      if (body.write === true && body.recordId === undefined) {
        throw new BridgeError('VALIDATION_FAILED', 'body/recordId is required when write is true')
      }
      if (body.flow !== undefined && !bridge.config.flows.some((f) => f.name === body.flow)) {
        throw new BridgeError('NOT_FOUND', `flow "${body.flow}" is not configured`)
      }
      const { report } = await runOrgCheck(
        bridge.config,
        {
          write: body.write === true,
          ...(body.recordId !== undefined ? { recordId: body.recordId } : {}),
          ...(body.flow !== undefined ? { flow: body.flow } : {}),
        },
        bridge.logger,
      )
      return report
    },
  )
}

export default orgCheck
