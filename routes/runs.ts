import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import { ErrorRef, FlowParams } from '../schemas/common.js'
import { ListRunsQuery, RUNS_PAGE_LIMIT, RunParams, StartRunHeaders, StartRunQuery } from '../schemas/runs.js'
import type { Bridge } from '../src/bridge.js'
import { BridgeError } from '../src/domain/errors.js'
import { assertClientIdempotencyKey } from '../src/domain/idempotency-keys.js'
import { runProgress } from '../src/runs/run-progress.js'
import { toPlannedFileView, toRunDetailView, toRunSummaryView } from '../src/services/run-views.js'
import type { RouteApp } from './route-app.js'

const errors = {
  400: ErrorRef,
  401: ErrorRef,
  404: ErrorRef,
}

function registerStartFlowRun(app: RouteApp, bridge: Bridge) {
  app.post(
    '/v1/flows/:flow/runs',
    {
      schema: {
        operationId: 'startFlowRun',
        summary: 'Start a run of an inbound flow (or plan one with dryRun=true)',
        description:
          'Answers 202 with the run id at once; the transfer happens in the background. With dryRun=true answers 200 with what a run would do, changing nothing.',
        tags: ['runs'],
        params: FlowParams,
        querystring: StartRunQuery,
        headers: StartRunHeaders,
        response: {
          200: T.Ref('DryRunPlan'),
          202: T.Ref('RunAccepted'),
          ...errors,
          409: ErrorRef,
          429: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { flow } = request.params
      if (request.query.dryRun) {
        const plan = await bridge.engine.dryRun(flow)
        return reply.code(200).send({
          flow: plan.flow,
          dryRun: true,
          files: plan.files.map(toPlannedFileView),
          ...(plan.atomicBatches ? { atomicBatches: plan.atomicBatches } : {}),
          batches: plan.batches,
        })
      }
      const key = request.headers['idempotency-key']
      assertClientIdempotencyKey(key)
      const { run, created } = await bridge.engine.startRun(flow, {
        trigger: 'api',
        ...(key
          ? {
              idempotencyKey: key,
              requestHash: createHash('sha256').update(`POST /v1/flows/${flow}/runs`).digest('hex'),
            }
          : {}),
      })
      return reply.code(202).send({ runId: run.id, statusUrl: `/v1/runs/${run.id}`, created })
    },
  )
}

function registerGetRun(app: RouteApp, bridge: Bridge) {
  app.get(
    '/v1/runs/:id',
    {
      schema: {
        operationId: 'getRun',
        summary: 'A run with its counts, notes and per-file items',
        tags: ['runs'],
        params: RunParams,
        response: { 200: T.Ref('RunDetail'), ...errors },
      },
    },
    async (request) => {
      const run = await bridge.store.getRun(request.params.id)
      if (!run) throw new BridgeError('NOT_FOUND', `run ${request.params.id} does not exist`)
      const [counts, items] = await Promise.all([
        bridge.store.runCounts(run.id),
        bridge.store.listItems(run.id),
      ])
      return toRunDetailView(
        run,
        counts,
        items,
        runProgress(run, items, bridge.engine.inFlightBytes(run.id), Date.now()),
      )
    },
  )
}

function registerListRuns(app: RouteApp, bridge: Bridge) {
  app.get(
    '/v1/runs',
    {
      schema: {
        operationId: 'listRuns',
        summary: 'Runs, newest first, filtered by flow and state, paged by cursor',
        tags: ['runs'],
        querystring: ListRunsQuery,
        response: { 200: T.Ref('RunList'), 400: ErrorRef, 401: ErrorRef },
      },
    },
    async (request) => {
      const { flow, state, cursor, limit } = request.query
      const page = await bridge.store.listRuns({
        limit: limit ?? RUNS_PAGE_LIMIT,
        ...(flow ? { flow } : {}),
        ...(state ? { state } : {}),
        ...(cursor ? { cursor } : {}),
      })
      return { runs: page.runs.map(toRunSummaryView), nextCursor: page.nextCursor }
    },
  )
}

function registerRetryRun(app: RouteApp, bridge: Bridge) {
  app.post(
    '/v1/runs/:id/retry',
    {
      schema: {
        operationId: 'retryRun',
        summary: 'Retry the failed items of a run',
        tags: ['runs'],
        params: RunParams,
        response: { 202: T.Ref('RetryAccepted'), ...errors },
      },
    },
    async (request, reply) => {
      const { run, retried } = await bridge.engine.retryRun(request.params.id)
      return reply.code(202).send({ runId: run.id, retried })
    },
  )
}

// Registration order is the order of the OpenAPI document's paths.
const runs: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  registerStartFlowRun(app, bridge)
  registerGetRun(app, bridge)
  registerListRuns(app, bridge)
  registerRetryRun(app, bridge)
}

export default runs
