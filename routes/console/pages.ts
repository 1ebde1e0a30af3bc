/** The console's pages (GET): each reads through the store or a service, renders, and answers HTML. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  ConsoleNotificationsQuery,
  ConsoleRejectionsQuery,
  ConsoleRunParams,
  ConsoleRunQuery,
  ConsoleRunsQuery,
} from '../../schemas/console.js'
import type { Bridge } from '../../src/bridge.js'
import { renderDocument } from '../../src/console/html.js'
import { endpointsPage } from '../../src/console/pages/endpoints.js'
import { notificationsPage } from '../../src/console/pages/notifications.js'
import { overviewPage } from '../../src/console/pages/overview.js'
import { rejectionsPage } from '../../src/console/pages/rejections.js'
import { runPage } from '../../src/console/pages/run.js'
import { runsPage } from '../../src/console/pages/runs.js'
import { BridgeError } from '../../src/domain/errors.js'
import { CONSOLE_PATH, csrfOf } from '../../src/plugins/console-session.js'
import type { RunState } from '../../src/ports/store.js'
import { buildOverview } from '../../src/services/console-overview.js'
import type { RouteApp } from '../route-app.js'
import { streamRunProgress } from '../run-events.js'

export const PAGE_SIZE = 50
const MAX_REJECTIONS_SHOWN = 100
const session = { auth: 'session' } as const
const HTML = 'text/html; charset=utf-8'

/** A datetime-local value has no zone; the page says UTC, so it is read as UTC. */
const asUtc = (value: string) => (/(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`)

function registerOverview(app: RouteApp, bridge: Bridge) {
  app.get(CONSOLE_PATH, { config: session, schema: { hide: true } }, async (request, reply) => {
    const overview = await buildOverview({
      store: bridge.store,
      flows: bridge.config.flows,
      nextTick: bridge.nextTick,
      nowMs: bridge.clock.now(),
    })
    return reply.type(HTML).send(renderDocument(overviewPage(overview, csrfOf(request))))
  })
}

function registerRuns(app: RouteApp, bridge: Bridge) {
  app.get(
    `${CONSOLE_PATH}/runs`,
    { config: session, schema: { hide: true, querystring: ConsoleRunsQuery } },
    async (request, reply) => {
      const { flow, state, from, to, cursor } = request.query
      const page = await bridge.store.listRuns({
        limit: PAGE_SIZE,
        ...(flow ? { flow } : {}),
        ...(state ? { state: state as RunState } : {}),
        ...(from ? { createdFrom: asUtc(from) } : {}),
        ...(to ? { createdTo: asUtc(to) } : {}),
        ...(cursor ? { cursor } : {}),
      })
      const flows = bridge.config.flows.map((f) => f.name)
      const filter = { flow, state, from, to }
      return reply
        .type(HTML)
        .send(renderDocument(runsPage({ ...page, filter, flows, csrf: csrfOf(request) })))
    },
  )
}

function noticeOf(done: 'retry' | 'cancel' | undefined, n: number | undefined): string | undefined {
  if (done === 'retry') return `Retrying ${n ?? 0} failed file(s).`
  if (done === 'cancel') return 'Cancel requested.'
  return undefined
}

function registerRun(app: RouteApp, bridge: Bridge) {
  app.get(
    `${CONSOLE_PATH}/runs/:id`,
    { config: session, schema: { hide: true, params: ConsoleRunParams, querystring: ConsoleRunQuery } },
    async (request, reply) => {
      const run = await bridge.store.getRun(request.params.id)
      if (!run) throw new BridgeError('NOT_FOUND', `run ${request.params.id} does not exist`)
      const { state, cursor, done, n } = request.query
      const [counts, page] = await Promise.all([
        bridge.store.runCounts(run.id),
        bridge.store.listRunItems(run.id, {
          limit: PAGE_SIZE,
          ...(state ? { state } : {}),
          ...(cursor ? { cursor } : {}),
        }),
      ])
      const data = {
        run,
        kind: bridge.config.flows.find((f) => f.name === run.flow)?.kind ?? null,
        counts,
        ...page,
        stateFilter: state || undefined,
        instanceUrl: bridge.sf.instanceUrl(),
        csrf: csrfOf(request),
        notice: noticeOf(done, n),
      }
      return reply.type(HTML).send(renderDocument(runPage(data)))
    },
  )
  app.get(
    `${CONSOLE_PATH}/runs/:id/events`,
    { config: session, schema: { hide: true, params: ConsoleRunParams } },
    async (request, reply) => streamRunProgress(bridge, request.params.id, request, reply),
  )
}

function registerRejections(app: RouteApp, bridge: Bridge) {
  app.get(
    `${CONSOLE_PATH}/rejections`,
    { config: session, schema: { hide: true, querystring: ConsoleRejectionsQuery } },
    async (request, reply) => {
      const flows = bridge.config.flows.filter((f) => f.kind === 'inbound' && f.review).map((f) => f.name)
      const flow = request.query.flow || flows[0]
      if (flow !== undefined && !flows.includes(flow)) {
        throw new BridgeError('VALIDATION_FAILED', `flow: "${flow}" has no review loop`, {
          details: { field: 'flow' },
        })
      }
      const all = flow === undefined ? [] : await bridge.reviews.list(flow)
      const reviews = all.slice(-MAX_REJECTIONS_SHOWN).reverse()
      const data = { flows, flow, reviews, total: all.length, csrf: csrfOf(request) }
      return reply.type(HTML).send(renderDocument(rejectionsPage(data)))
    },
  )
}

function registerEndpoints(app: RouteApp, bridge: Bridge) {
  app.get(
    `${CONSOLE_PATH}/endpoints`,
    { config: session, schema: { hide: true } },
    async (request, reply) => {
      const rows = [...bridge.endpoints.values()].map((e) => ({
        name: e.name,
        protocol: e.protocol,
        host: e.host,
        port: e.port ?? null,
        flows: bridge.config.flows
          .filter((f) => (f.kind === 'outbound' ? f.destination.endpoint : f.source.endpoint) === e.name)
          .map((f) => f.name),
      }))
      return reply.type(HTML).send(renderDocument(endpointsPage(rows, csrfOf(request))))
    },
  )
}

function registerNotifications(app: RouteApp, bridge: Bridge) {
  app.get(
    `${CONSOLE_PATH}/notifications`,
    { config: session, schema: { hide: true, querystring: ConsoleNotificationsQuery } },
    async (request, reply) => {
      const { state, channel, cursor } = request.query
      const page = await bridge.notifications.list({
        limit: PAGE_SIZE,
        ...(state ? { state } : {}),
        ...(channel ? { channel } : {}),
        ...(cursor ? { cursor } : {}),
      })
      const data = {
        ...page,
        channels: Object.keys(bridge.config.notifications?.channels ?? {}),
        filter: { state: state || undefined, channel: channel || undefined },
        csrf: csrfOf(request),
      }
      return reply.type(HTML).send(renderDocument(notificationsPage(data)))
    },
  )
}

const consolePages: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  registerOverview(app, bridge)
  registerRuns(app, bridge)
  registerRun(app, bridge)
  registerRejections(app, bridge)
  registerEndpoints(app, bridge)
  registerNotifications(app, bridge)
}

export default consolePages
