/**
 * Live progress of a run as server-sent events: a `progress` event with
 * files and bytes done / total and an ETA whenever the run moves (at most
 * about five a second), then `end` with the final figures.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ErrorRef } from '../schemas/common.js'
import { RunParams } from '../schemas/runs.js'
import type { Bridge } from '../src/bridge.js'
import { BridgeError } from '../src/domain/errors.js'
import type { RunRecord } from '../src/ports/store.js'
import { type RunProgress, runProgressFromTotals } from '../src/runs/run-progress.js'

const ACTIVE = new Set(['waiting_for_window', 'queued', 'running'])
/** A comment line keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000

/** A run's progress from its counts, sizes and the few items in flight: never the whole run. */
async function measureRun(bridge: Bridge, run: RunRecord): Promise<RunProgress> {
  const [counts, sizes] = await Promise.all([bridge.store.runCounts(run.id), bridge.store.runSizes(run.id)])
  const inFlight = await Promise.all(
    [...bridge.engine.inFlightBytes(run.id)].map(async ([itemId, bytes]) => ({
      item: await bridge.store.getItem(itemId),
      bytes,
    })),
  )
  const moving = inFlight.flatMap(({ item, bytes }) => (item ? [{ item, bytes }] : []))
  return runProgressFromTotals(run, counts, sizes, moving, Date.now())
}

/**
 * Streams a run's progress on this request until the run ends or the client goes: the API's
 * route and the console's (session-authenticated) both answer with it.
 */
export async function streamRunProgress(
  bridge: Bridge,
  id: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  if (!(await bridge.store.getRun(id))) throw new BridgeError('NOT_FOUND', `run ${id} does not exist`)
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  let last = ''
  let busy = false
  let again = false
  let closed = false

  const finish = () => {
    if (closed) return
    closed = true
    stopProgress()
    stopSettled()
    clearInterval(heartbeat)
    res.end()
  }
  const send = async (): Promise<void> => {
    if (busy) {
      again = true
      return
    }
    busy = true
    try {
      do {
        again = false
        const run = await bridge.store.getRun(id)
        if (!run || closed) return
        const progress = await measureRun(bridge, run)
        const data = JSON.stringify(progress)
        if (data !== last) {
          last = data
          res.write(`event: progress\ndata: ${data}\n\n`)
        }
        if (!ACTIVE.has(run.state)) {
          res.write(`event: end\ndata: ${data}\n\n`)
          finish()
          return
        }
      } while (again)
    } finally {
      busy = false
    }
  }
  const onProgress = (event: { runId: string }) => {
    if (event.runId === id) void send()
  }
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS)
  const stopProgress = bridge.events.on('run-progress', onProgress)
  const stopSettled = bridge.events.on('run-settled', onProgress)
  request.raw.on('close', finish)
  await send()
}

const runEvents: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  app.get(
    '/v1/runs/:id/events',
    {
      schema: {
        // text/event-stream is not an External Services media type; the route is for people and tools.
        hide: true,
        operationId: 'streamRunProgress',
        summary: 'Server-sent events with a run’s progress (files, bytes, ETA) until it ends',
        tags: ['runs'],
        params: RunParams,
        produces: ['text/event-stream'],
        response: { 200: T.String({ description: 'text/event-stream' }), 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request, reply) => streamRunProgress(bridge, request.params.id, request, reply),
  )
}

export default runEvents
