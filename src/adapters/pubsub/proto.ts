/** The Pub/Sub API service definition, loaded once from the embedded proto for the client and the sandbox. */
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import protobuf from 'protobufjs'
import { PUBSUB_API_PROTO } from './proto-text.js'

export const REPLAY_PRESET = { LATEST: 0, EARLIEST: 1, CUSTOM: 2 } as const

export interface ProducerEvent {
  id: string
  schema_id: string
  payload: Buffer
}
export interface ConsumerEvent {
  event: ProducerEvent
  replay_id: Buffer
}
export interface FetchRequest {
  topic_name?: string
  replay_preset?: number | string
  replay_id?: Buffer
  num_requested?: number
}
export interface FetchResponse {
  events: ConsumerEvent[]
  latest_replay_id: Buffer
  rpc_id: string
  pending_num_requested: number
}

let loaded: grpc.ServiceClientConstructor | null = null

/** The PubSub service: its client constructor, whose `.service` a server registers. */
export function pubSubService(): grpc.ServiceClientConstructor {
  if (!loaded) {
    const root = protobuf.parse(PUBSUB_API_PROTO, { keepCase: true }).root
    const definition = protoLoader.fromJSON(root.toJSON(), {
      keepCase: true,
      longs: String,
      enums: Number,
      defaults: true,
      oneofs: true,
    })
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      eventbus: { v1: { PubSub: grpc.ServiceClientConstructor } }
    }
    loaded = pkg.eventbus.v1.PubSub
  }
  return loaded
}
