import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import { ErrorRef } from '../schemas/common.js'
import { ExportHeaders, JobParams } from '../schemas/exports.js'
import { ListRunsQuery, RUNS_PAGE_LIMIT } from '../schemas/runs.js'
import type { Bridge } from '../src/bridge.js'
import { BridgeError } from '../src/domain/errors.js'
import { assertClientIdempotencyKey } from '../src/domain/idempotency-keys.js'
import { type KeyValueEntry, keyValueMap } from '../src/domain/key-values.js'
import { toJobDetailView, toJobSummaryView } from '../src/services/run-views.js'
import { acceptMapFormOf } from './key-value-body.js'
import type { RouteApp } from './route-app.js'

const outboundFlows = (bridge: Bridge) =>
  bridge.config.flows.filter((f) => f.kind === 'outbound').map((f) => f.name)

async function jobOrThrow(bridge: Bridge, id: string) {
  const job = await bridge.store.getRun(id)
  if (!job || !bridge.exports.isExportJob(job)) throw new BridgeError('NOT_FOUND', `job ${id} does not exist`)
  return job
}

function registerCreateExport(app: RouteApp, bridge: Bridge) {
  app.post(
    '/v1/exports',
    {
      preValidation: acceptMapFormOf('metadata'),
      schema: {
        operationId: 'createExport',
        summary: 'Export the S-Drive files of records (or given files) to the flow’s FTP/SFTP destination',
        description:
          'Answers 202 with the job id at once; delivery happens in the background (or at the flow’s delivery window). Callers never send SOQL: the flow decides which files of a record are exported.',
        tags: ['exports'],
        body: T.Ref('ExportRequest'),
        headers: ExportHeaders,
        response: {
          202: T.Ref('ExportAccepted'),
          400: ErrorRef,
          401: ErrorRef,
          404: ErrorRef,
          409: ErrorRef,
          413: ErrorRef,
          429: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const body = request.body as {
        flow: string
        recordIds?: string[]
        fileIds?: string[]
        metadata?: KeyValueEntry[]
      }
      const key = request.headers['idempotency-key']
      assertClientIdempotencyKey(key)
      const { job, created } = await bridge.exports.submit(
        body.flow,
        {
          ...(body.recordIds ? { recordIds: body.recordIds } : {}),
          ...(body.fileIds ? { fileIds: body.fileIds } : {}),
          ...(body.metadata ? { metadata: keyValueMap(body.metadata, 'body.metadata') } : {}),
        },
        { trigger: 'api', ...(key ? { idempotencyKey: key } : {}) },
      )
      return reply
        .code(202)
        .send({ jobId: job.id, statusUrl: `/v1/jobs/${job.id}`, state: job.state, created })
    },
  )
}

function registerGetJob(app: RouteApp, bridge: Bridge) {
  app.get(
    '/v1/jobs/:id',
    {
      schema: {
        operationId: 'getJob',
        summary: 'An export job with each file’s outcome',
        tags: ['exports'],
        params: JobParams,
        response: { 200: T.Ref('JobDetail'), 400: ErrorRef, 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const job = await jobOrThrow(bridge, request.params.id)
      const [counts, items] = await Promise.all([
        bridge.store.runCounts(job.id),
        bridge.store.listItems(job.id),
      ])
      return toJobDetailView(job, counts, items)
    },
  )
}

function registerListJobs(app: RouteApp, bridge: Bridge) {
  app.get(
    '/v1/jobs',
    {
      schema: {
        operationId: 'listJobs',
        summary: 'Export jobs, newest first, filtered by flow and state, paged by cursor',
        tags: ['exports'],
        querystring: ListRunsQuery,
        response: { 200: T.Ref('JobList'), 400: ErrorRef, 401: ErrorRef },
      },
    },
    async (request) => {
      const { flow, state, cursor, limit } = request.query
      const page = await bridge.store.listRuns({
        limit: limit ?? RUNS_PAGE_LIMIT,
        flows: outboundFlows(bridge),
        ...(flow ? { flow } : {}),
        ...(state ? { state } : {}),
        ...(cursor ? { cursor } : {}),
      })
      return { jobs: page.runs.map(toJobSummaryView), nextCursor: page.nextCursor }
    },
  )
}

function registerRetryJob(app: RouteApp, bridge: Bridge) {
  app.post(
    '/v1/jobs/:id/retry',
    {
      schema: {
        operationId: 'retryJob',
        summary: 'Retry the failed files of a job',
        tags: ['exports'],
        params: JobParams,
        response: {
          202: T.Ref('JobActionResult'),
          400: ErrorRef,
          401: ErrorRef,
          404: ErrorRef,
          409: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      await jobOrThrow(bridge, request.params.id)
      const { job, retried } = await bridge.exports.retry(request.params.id)
      return reply.code(202).send({ jobId: job.id, state: job.state, retried })
    },
  )
}

function registerCancelJob(app: RouteApp, bridge: Bridge) {
  app.post(
    '/v1/jobs/:id/cancel',
    {
      schema: {
        operationId: 'cancelJob',
        summary: 'Cancel a waiting, queued or running job',
        tags: ['exports'],
        params: JobParams,
        response: {
          200: T.Ref('JobActionResult'),
          400: ErrorRef,
          401: ErrorRef,
          404: ErrorRef,
          409: ErrorRef,
        },
      },
    },
    async (request) => {
      await jobOrThrow(bridge, request.params.id)
      const job = await bridge.exports.cancel(request.params.id)
      return { jobId: job.id, state: job.state, retried: 0 }
    },
  )
}

// Registration order is the order of the OpenAPI document's paths.
const exportsRoutes: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  registerCreateExport(app, bridge)
  registerGetJob(app, bridge)
  registerListJobs(app, bridge)
  registerRetryJob(app, bridge)
  registerCancelJob(app, bridge)
}

export default exportsRoutes
