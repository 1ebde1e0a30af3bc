/** The audit trail for auditors: every file outcome, oldest first, paged by cursor. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import { FILE_OUTCOMES_PAGE_LIMIT, ListFileOutcomesQuery } from '../schemas/audit.js'
import { ErrorRef } from '../schemas/common.js'
import type { Bridge } from '../src/bridge.js'
import { toFileOutcomeView } from '../src/services/audit-views.js'

const audit: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  app.get(
    '/v1/audit',
    {
      schema: {
        operationId: 'listFileOutcomes',
        summary: 'File outcomes (done, skipped, failed) by the time they were stored, paged by cursor',
        description:
          'The audit trail: one entry per file that reached an outcome, with its source and final path, record, S-Drive file, bytes and SHA-256. The same outcomes are logged as "file outcome" lines.',
        tags: ['audit'],
        querystring: ListFileOutcomesQuery,
        response: { 200: T.Ref('FileOutcomeList'), 400: ErrorRef, 401: ErrorRef },
      },
    },
    async (request) => {
      const { since, cursor, limit } = request.query
      const page = await bridge.store.listFileOutcomes({
        limit: limit ?? FILE_OUTCOMES_PAGE_LIMIT,
        ...(since ? { since } : {}),
        ...(cursor ? { cursor } : {}),
      })
      // Per request: a configuration reload may have changed the flows since start-up.
      const kindOf = new Map(bridge.config.flows.map((f) => [f.name, f.kind]))
      return {
        items: page.items.map((item) => toFileOutcomeView(item, kindOf.get(item.flow) ?? null)),
        nextCursor: page.nextCursor,
      }
    },
  )
}

export default audit
