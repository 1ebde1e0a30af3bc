/**
 * The console's actions (POST, CSRF-checked by the session plugin): retry
 * and cancel a run, plan a dry run, check an endpoint — through the same
 * engines and checks as the API's routes. Each answers with a redirect to
 * the page it changed, or with the page of its result.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  ConsoleEndpointParams,
  ConsoleFlowParams,
  ConsoleForm,
  ConsoleRunParams,
} from '../../schemas/console.js'
import { checkEndpoint } from '../../src/adapters/remote/check.js'
import { endpointDirectories } from '../../src/adapters/remote/check-directories.js'
import type { Bridge } from '../../src/bridge.js'
import { renderDocument } from '../../src/console/html.js'
import { dryRunPage } from '../../src/console/pages/dry-run.js'
import { endpointReportPage } from '../../src/console/pages/endpoints.js'
import { BridgeError } from '../../src/domain/errors.js'
import { CONSOLE_PATH, csrfOf } from '../../src/plugins/console-session.js'
import { toPlannedFileView } from '../../src/services/run-views.js'
import type { RouteApp } from '../route-app.js'

const session = { auth: 'session' } as const
const HTML = 'text/html; charset=utf-8'

async function isExportJob(bridge: Bridge, runId: string): Promise<boolean> {
  const run = await bridge.store.getRun(runId)
  if (!run) throw new BridgeError('NOT_FOUND', `run ${runId} does not exist`)
  return bridge.exports.isExportJob(run)
}

function registerRunActions(app: RouteApp, bridge: Bridge) {
  app.post(
    `${CONSOLE_PATH}/runs/:id/retry`,
    { config: session, schema: { hide: true, params: ConsoleRunParams, body: ConsoleForm } },
    async (request, reply) => {
      const { id } = request.params
      const { retried } = (await isExportJob(bridge, id))
        ? await bridge.exports.retry(id)
        : await bridge.engine.retryRun(id)
      return reply.redirect(`${CONSOLE_PATH}/runs/${id}?done=retry&n=${retried}`, 303)
    },
  )
  app.post(
    `${CONSOLE_PATH}/runs/:id/cancel`,
    { config: session, schema: { hide: true, params: ConsoleRunParams, body: ConsoleForm } },
    async (request, reply) => {
      const { id } = request.params
      if (await isExportJob(bridge, id)) await bridge.exports.cancel(id)
      else await bridge.engine.cancelRun(id)
      return reply.redirect(`${CONSOLE_PATH}/runs/${id}?done=cancel`, 303)
    },
  )
}

function registerDryRun(app: RouteApp, bridge: Bridge) {
  app.post(
    `${CONSOLE_PATH}/flows/:flow/dry-run`,
    { config: session, schema: { hide: true, params: ConsoleFlowParams, body: ConsoleForm } },
    async (request, reply) => {
      const plan = await bridge.engine.dryRun(request.params.flow)
      const files = plan.files.map(toPlannedFileView)
      return reply
        .type(HTML)
        .send(renderDocument(dryRunPage(plan.flow, files, csrfOf(request), plan.atomicBatches)))
    },
  )
}

function registerEndpointCheck(app: RouteApp, bridge: Bridge) {
  app.post(
    `${CONSOLE_PATH}/endpoints/:name/check`,
    { config: session, schema: { hide: true, params: ConsoleEndpointParams, body: ConsoleForm } },
    async (request, reply) => {
      const endpoint = bridge.endpoints.get(request.params.name)
      if (!endpoint) throw new BridgeError('NOT_FOUND', `endpoint "${request.params.name}" is not configured`)
      const directories = endpointDirectories(bridge.config.flows, endpoint.name)
      const report = await checkEndpoint(
        endpoint,
        directories,
        bridge.logger.child({ component: 'endpoint-check' }),
      )
      return reply.type(HTML).send(renderDocument(endpointReportPage(report, csrfOf(request))))
    },
  )
}

const consoleActions: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  registerRunActions(app, bridge)
  registerDryRun(app, bridge)
  registerEndpointCheck(app, bridge)
}

export default consoleActions
