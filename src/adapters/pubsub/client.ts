/**
 * EventSubscriber over the Salesforce Pub/Sub API (gRPC + Avro): the
 * session's token, instance URL and org id as call metadata, FetchRequests
 * of batchSize events, schemas fetched once per schema id, a reconnect with
 * backoff after a failure (resuming after the last batch handled), a new
 * token when Salesforce refuses the session, and EARLIEST with a warning when
 * the replay id to resume from is no longer retained.
 */
import * as grpc from '@grpc/grpc-js'
import avro from 'avsc'
import type { Logger } from 'pino'
import type { SalesforcePubSubConfig } from '../../config/trigger-pubsub-schema.js'
import { backoffDelay } from '../../domain/backoff.js'
import type { AvroRecordSchema } from '../../domain/pubsub-events.js'
import type {
  EventSubscriber,
  StreamEvent,
  StreamStart,
  SubscribeOptions,
} from '../../ports/event-subscriber.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import { type FetchRequest, type FetchResponse, pubSubService, REPLAY_PRESET } from './proto.js'

type PubSubClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>

interface Schema {
  type: avro.Type
  json: AvroRecordSchema
}

const DEFAULTS: SalesforcePubSubConfig = {
  endpoint: 'api.pubsub.salesforce.com:7443',
  tls: true,
  reconnectMaxDelayMs: 30_000,
}

/** Salesforce names an unknown or expired replay id with this error code (or says so in the message). */
const isReplayGone = (error: grpc.ServiceError) =>
  String(error.metadata?.get('error-code')[0] ?? '').includes('replayid') ||
  /replay id/i.test(error.details ?? '')

export function createPubSubSubscriber(
  config: SalesforcePubSubConfig | undefined,
  deps: { sf: SalesforceApi; logger: Logger },
): EventSubscriber {
  const settings = { ...DEFAULTS, ...config }
  // Made on the first subscription: a service with no Pub/Sub trigger loads no proto and opens no channel.
  let channel: PubSubClient | null = null
  const client = (): PubSubClient => {
    if (!channel) {
      const credentials = settings.tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure()
      const Service = pubSubService()
      channel = new Service(settings.endpoint, credentials) as unknown as PubSubClient
    }
    return channel
  }
  const schemas = new Map<string, Promise<Schema>>()
  let clients = 0

  async function metadata(renew: boolean): Promise<grpc.Metadata> {
    const session = await deps.sf.sessionCredentials({ renew })
    const md = new grpc.Metadata()
    md.set('accesstoken', session.accessToken)
    md.set('instanceurl', session.instanceUrl)
    md.set('tenantid', session.orgId)
    return md
  }

  function schemaOf(id: string, md: grpc.Metadata): Promise<Schema> {
    let schema = schemas.get(id)
    if (!schema) {
      schema = new Promise<Schema>((resolve, reject) =>
        client().GetSchema!(
          { schema_id: id },
          md,
          (error: grpc.ServiceError | null, info: { schema_json: string }) => {
            if (error) return reject(error)
            const json = JSON.parse(info.schema_json) as AvroRecordSchema
            resolve({ json, type: avro.Type.forSchema(json as avro.Schema) })
          },
        ),
      )
      schema.catch(() => schemas.delete(id))
      schemas.set(id, schema)
    }
    return schema
  }

  return {
    subscribe(options) {
      clients++
      return runSubscription(
        options,
        { client: client(), metadata, schemaOf, settings, logger: deps.logger },
        () => {
          if (--clients === 0) {
            channel?.close()
            channel = null
          }
        },
      )
    },
  }
}

interface Link {
  client: PubSubClient
  metadata(renew: boolean): Promise<grpc.Metadata>
  schemaOf(id: string, md: grpc.Metadata): Promise<Schema>
  settings: SalesforcePubSubConfig
  logger: Logger
}

function firstRequest(topic: string, start: StreamStart, batchSize: number): FetchRequest {
  if ('replayId' in start) {
    return {
      topic_name: topic,
      replay_preset: REPLAY_PRESET.CUSTOM,
      replay_id: Buffer.from(start.replayId, 'hex'),
      num_requested: batchSize,
    }
  }
  return { topic_name: topic, replay_preset: REPLAY_PRESET[start.preset], num_requested: batchSize }
}

/** One stream at a time, until stop(): each ends in an error or a stop, and the next resumes after the last batch handled. */
function runSubscription(options: SubscribeOptions, link: Link, onStopped: () => void) {
  const log = link.logger.child({ topic: options.topic })
  let start = options.start
  let stopped = false
  let current: grpc.ClientDuplexStream<FetchRequest, FetchResponse> | null = null
  let wake: (() => void) | null = null
  /** A batch was handled since the last failure: the backoff starts over. */
  let progressed = false

  /** One stream: resolves with its error when it ends. */
  async function stream(renew: boolean): Promise<grpc.ServiceError | Error | null> {
    const md = await link.metadata(renew)
    const call = link.client.Subscribe!(md) as grpc.ClientDuplexStream<FetchRequest, FetchResponse>
    current = call
    let chain = Promise.resolve()
    let received = 0
    return new Promise((resolve) => {
      let ended = false
      const finish = (error: grpc.ServiceError | Error | null) => {
        if (ended) return
        ended = true
        call.cancel()
        resolve(error)
      }
      call.on('data', (response: FetchResponse) => {
        if (response.events.length === 0) return
        chain = chain
          .then(async () => {
            if (ended) return
            const events: StreamEvent[] = []
            for (const e of response.events) {
              const schema = await link.schemaOf(e.event.schema_id, md)
              events.push({
                replayId: Buffer.from(e.replay_id).toString('hex'),
                id: e.event.id,
                fields: schema.type.fromBuffer(Buffer.from(e.event.payload)) as Record<string, unknown>,
                schema: schema.json,
              })
            }
            await options.handle(events)
            start = { replayId: events[events.length - 1]!.replayId }
            received += events.length
            progressed = true
            // Asked for more only when the batch asked for has been handled: at most batchSize in memory.
            if (received >= options.batchSize && !ended) {
              received -= options.batchSize
              call.write({ num_requested: options.batchSize })
            }
          })
          .catch((error: unknown) => finish(error as Error))
      })
      call.on('error', (error: grpc.ServiceError) => finish(stopped ? null : error))
      call.on('end', () => finish(null))
      call.write(firstRequest(options.topic, start, options.batchSize))
    })
  }

  async function loop() {
    let attempt = 0
    let renew = false
    while (!stopped) {
      const error = await stream(renew).catch((e: unknown) => e as Error)
      renew = false
      if (stopped) break
      if (progressed) attempt = 0
      progressed = false
      const grpcError = error as grpc.ServiceError | null
      if (grpcError?.code === grpc.status.UNAUTHENTICATED) {
        log.info('pub/sub session refused; signing in again')
        renew = true
      } else if (grpcError && 'replayId' in start && isReplayGone(grpcError)) {
        log.warn(
          { replayId: start.replayId },
          'stored replay id is no longer retained; resuming from the earliest retained event',
        )
        start = { preset: 'EARLIEST' }
      } else {
        log.warn({ err: error ?? undefined }, 'pub/sub stream ended; reconnecting')
      }
      const delay =
        renew && attempt === 0
          ? 0
          : backoffDelay(attempt, { baseMs: 500, maxMs: link.settings.reconnectMaxDelayMs })
      attempt = Math.min(attempt + 1, 30)
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, Math.max(delay, 50)).unref()
      })
      wake = null
    }
  }

  const running = loop().catch((error: unknown) => log.error({ err: error }, 'pub/sub subscription failed'))
  return {
    async stop() {
      if (stopped) return
      stopped = true
      current?.cancel()
      wake?.()
      await running
      onStopped()
    },
  }
}
