/**
 * The Pub/Sub API over real gRPC for the sandbox, from the same proto the
 * service's client uses: Subscribe (replay presets, flow control by
 * num_requested), Publish, GetTopic, GetSchema. Every call must carry a
 * session token the sandbox issued (accesstoken metadata) and its org id
 * (tenantid), as Salesforce checks them.
 */
import * as grpc from '@grpc/grpc-js'
import {
  type FetchRequest,
  type FetchResponse,
  pubSubService,
  REPLAY_PRESET,
} from '../../../adapters/pubsub/proto.js'
import { type EventBus, replayIdBytes, replayIdOf, type Topic } from './bus.js'

export interface PubSubSandboxOptions {
  bus: EventBus
  orgId: string
  isValidToken(token: string): boolean
  host: string
}

const MAX_BATCH = 100

function statusError(code: grpc.status, details: string, errorCode?: string): Partial<grpc.ServiceError> {
  const metadata = new grpc.Metadata()
  if (errorCode) metadata.set('error-code', errorCode)
  return { code, details, metadata }
}

function authError(
  options: PubSubSandboxOptions,
  metadata: grpc.Metadata,
): Partial<grpc.ServiceError> | null {
  const token = String(metadata.get('accesstoken')[0] ?? '')
  if (!token || !options.isValidToken(token)) {
    return statusError(
      grpc.status.UNAUTHENTICATED,
      'Invalid session',
      'sfdc.platform.eventbus.grpc.service.auth.error',
    )
  }
  if (String(metadata.get('tenantid')[0] ?? '') !== options.orgId) {
    return statusError(
      grpc.status.PERMISSION_DENIED,
      'Unknown tenant',
      'sfdc.platform.eventbus.grpc.service.auth.error',
    )
  }
  return null
}

function topicOf(options: PubSubSandboxOptions, name: string): Topic | Partial<grpc.ServiceError> {
  return (
    options.bus.topics.get(name) ??
    statusError(
      grpc.status.NOT_FOUND,
      `topic ${name} not found`,
      'sfdc.platform.eventbus.grpc.topic.not.found',
    )
  )
}

/** Where a subscription starts: an index into the topic's retained events, or an error for an unknown replay id. */
function startIndex(topic: Topic, request: FetchRequest): number | Partial<grpc.ServiceError> {
  const preset = Number(request.replay_preset ?? 0)
  if (preset === REPLAY_PRESET.EARLIEST) return 0
  if (preset !== REPLAY_PRESET.CUSTOM) return topic.events.length
  const replay = replayIdOf(request.replay_id ?? Buffer.alloc(0))
  const index = replay === null ? -1 : topic.events.findIndex((e) => e.replayId === replay)
  if (index < 0) {
    return statusError(
      grpc.status.INVALID_ARGUMENT,
      'The Replay ID validation failed.',
      'sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed',
    )
  }
  return index + 1
}

function subscribe(
  options: PubSubSandboxOptions,
  call: grpc.ServerDuplexStream<FetchRequest, FetchResponse>,
) {
  let topic: Topic | null = null
  let next = 0
  let pending = 0
  let over = false
  const token = String(call.metadata.get('accesstoken')[0] ?? '')
  const end = (error?: Partial<grpc.ServiceError>) => {
    if (over) return
    over = true
    unlisten()
    if (topic) options.bus.subscribers.set(topic.name, (options.bus.subscribers.get(topic.name) ?? 1) - 1)
    if (error) call.emit('error', error)
    else call.end()
  }
  const pump = () => {
    if (over || !topic) return
    // A session that ran out ends the stream, as Salesforce does; the client signs in again.
    if (!options.isValidToken(token)) return end(authError(options, call.metadata) ?? undefined)
    while (pending > 0 && next < topic.events.length) {
      const batch = topic.events.slice(next, next + Math.min(pending, MAX_BATCH))
      next += batch.length
      pending -= batch.length
      call.write({
        events: batch.map((e) => ({
          event: { id: e.id, schema_id: topic!.schemaId, payload: e.payload, headers: [] },
          replay_id: replayIdBytes(e.replayId),
        })),
        latest_replay_id: replayIdBytes(batch[batch.length - 1]!.replayId),
        rpc_id: '',
        pending_num_requested: pending,
      })
    }
  }
  const unlisten = options.bus.onAppend(pump)
  const denied = authError(options, call.metadata)
  if (denied) return end(denied)
  call.on('data', (request: FetchRequest) => {
    if (over) return
    if (!topic) {
      const found = topicOf(options, request.topic_name ?? '')
      if (!('events' in found)) return end(found)
      const start = startIndex(found, request)
      if (typeof start !== 'number') return end(start)
      topic = found
      next = start
      options.bus.subscribers.set(found.name, (options.bus.subscribers.get(found.name) ?? 0) + 1)
    }
    pending += Math.max(0, request.num_requested ?? 0)
    pump()
  })
  call.on('end', () => end())
  call.on('cancelled', () => end())
  call.on('error', () => end())
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void

function unary<Req, Res>(
  options: PubSubSandboxOptions,
  fn: (request: Req) => Res | Partial<grpc.ServiceError>,
): Unary<Req, Res> {
  return (call, callback) => {
    const denied = authError(options, call.metadata)
    if (denied) return callback(denied)
    const result = fn(call.request)
    if (result && typeof result === 'object' && 'code' in result && 'details' in result)
      return callback(result)
    callback(null, result as Res)
  }
}

function handlers(options: PubSubSandboxOptions): grpc.UntypedServiceImplementation {
  const { bus } = options
  return {
    Subscribe: (call: grpc.ServerDuplexStream<FetchRequest, FetchResponse>) => subscribe(options, call),
    GetTopic: unary(options, (request: { topic_name: string }) => {
      const topic = topicOf(options, request.topic_name)
      if (!('events' in topic)) return topic
      return {
        topic_name: topic.name,
        tenant_guid: options.orgId,
        can_publish: true,
        can_subscribe: true,
        schema_id: topic.schemaId,
        rpc_id: '',
      }
    }),
    GetSchema: unary(options, (request: { schema_id: string }) => {
      const topic = [...bus.topics.values()].find((t) => t.schemaId === request.schema_id)
      if (!topic) return statusError(grpc.status.NOT_FOUND, `schema ${request.schema_id} not found`)
      return { schema_json: JSON.stringify(topic.schema), schema_id: topic.schemaId, rpc_id: '' }
    }),
    Publish: unary(
      options,
      (request: { topic_name: string; events: { id: string; schema_id: string; payload: Buffer }[] }) => {
        const topic = topicOf(options, request.topic_name)
        if (!('events' in topic)) return topic
        const results = request.events.map((event) => {
          if (event.schema_id !== topic.schemaId)
            return { error: { code: 1, msg: 'unknown schema id' }, correlation_key: event.id }
          try {
            topic.type.fromBuffer(event.payload)
          } catch {
            return { error: { code: 1, msg: 'payload does not match the schema' }, correlation_key: event.id }
          }
          const [added] = bus.append(topic, [{ id: event.id, payload: event.payload }])
          return { replay_id: replayIdBytes(added!.replayId), correlation_key: added!.id }
        })
        return { results, schema_id: topic.schemaId, rpc_id: '' }
      },
    ),
    PublishStream: (call: grpc.ServerDuplexStream<unknown, unknown>) =>
      call.emit('error', statusError(grpc.status.UNIMPLEMENTED, 'PublishStream is not emulated')),
    ManagedSubscribe: (call: grpc.ServerDuplexStream<unknown, unknown>) =>
      call.emit('error', statusError(grpc.status.UNIMPLEMENTED, 'ManagedSubscribe is not emulated')),
  }
}

/** Listens on an ephemeral port of `host` (plaintext: a local sandbox); returns host:port and a close. */
export async function startPubSubSandbox(
  options: PubSubSandboxOptions,
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = new grpc.Server()
  server.addService(pubSubService().service, handlers(options))
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:0`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  )
  return {
    endpoint: `${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve())
        // Open subscriptions never end on their own: cut them after a moment.
        setTimeout(() => server.forceShutdown(), 200).unref()
      }),
  }
}
