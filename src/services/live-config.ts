/**
 * The one owner of the running configuration. Services are handed its maps
 * and its flow list once, at start-up, and look flows and endpoints up in
 * them per run; a reload replaces their contents in place, so every holder
 * sees the new flows and endpoints from its next lookup. A run holds on to
 * the flow object it started with, so a change applies from its next run.
 */
import type { LoadedConfig } from '../config/load.js'
import type { EndpointConfig, Flow, InboundFlow, OutboundFlow } from '../config/schema.js'
import { type ConfigChanges, configChanges } from '../domain/config-changes.js'
import type { SourceFolderFlow } from '../flows/inbound/context.js'

export interface LiveConfig {
  /** The configuration in force: the reloaded flows and endpoints, the other sections as started. */
  readonly current: LoadedConfig
  /** Every flow, in file order (the same array instance throughout). */
  readonly flowList: readonly Flow[]
  /** Names of outbound flows (the same array instance throughout). */
  readonly outboundNames: readonly string[]
  readonly endpoints: ReadonlyMap<string, EndpointConfig>
  /** Inbound and status flows: those that read a source folder. */
  readonly sourceFlows: ReadonlyMap<string, SourceFolderFlow>
  readonly outboundFlows: ReadonlyMap<string, OutboundFlow>
  readonly inboundFlows: ReadonlyMap<string, InboundFlow>
  /** What replacing the flows and endpoints with the file's would change (nothing applied). */
  changesTo(next: LoadedConfig): ConfigChanges
  /** Puts the file's flows and endpoints in force; the other sections stay as started. */
  apply(next: LoadedConfig): void
}

function refill<K, V>(map: Map<K, V>, entries: Iterable<[K, V]>): void {
  map.clear()
  for (const [key, value] of entries) map.set(key, value)
}

function refillArray<T>(array: T[], values: readonly T[]): void {
  array.splice(0, array.length, ...values)
}

export function createLiveConfig(initial: LoadedConfig): LiveConfig {
  const flowList: Flow[] = []
  const outboundNames: string[] = []
  const endpoints = new Map<string, EndpointConfig>()
  const sourceFlows = new Map<string, SourceFolderFlow>()
  const outboundFlows = new Map<string, OutboundFlow>()
  const inboundFlows = new Map<string, InboundFlow>()
  let current: LoadedConfig = initial

  function fill(config: LoadedConfig): void {
    refillArray(flowList, config.flows)
    refillArray(
      outboundNames,
      config.flows.filter((f) => f.kind === 'outbound').map((f) => f.name),
    )
    refill(
      endpoints,
      Object.values(config.endpoints).map((e) => [e.name, e]),
    )
    refill(
      sourceFlows,
      config.flows.flatMap((f): [string, SourceFolderFlow][] => (f.kind === 'outbound' ? [] : [[f.name, f]])),
    )
    refill(
      outboundFlows,
      config.flows.flatMap((f): [string, OutboundFlow][] => (f.kind === 'outbound' ? [[f.name, f]] : [])),
    )
    refill(
      inboundFlows,
      config.flows.flatMap((f): [string, InboundFlow][] => (f.kind === 'inbound' ? [[f.name, f]] : [])),
    )
  }
  fill(initial)

  return {
    get current() {
      return current
    },
    flowList,
    outboundNames,
    endpoints,
    sourceFlows,
    outboundFlows,
    inboundFlows,
    changesTo: (next) => configChanges(current, next),
    apply(next) {
      current = { ...current, flows: next.flows, endpoints: next.endpoints }
      fill(current)
    },
  }
}
