/**
 * Keys are parsed (and private keys opened, which is deliberately slow) once
 * per flow's settings object, not per file. A reloaded configuration brings
 * new settings objects, and so fresh keys; the old ones go with their flow.
 */
import { type InboundPgpKeys, type InboundPgpSettings, openInboundPgp } from './decrypt.js'
import { type OutboundPgpKeys, type OutboundPgpSettings, openOutboundPgp } from './encrypt-stage.js'

const outbound = new WeakMap<OutboundPgpSettings, Promise<OutboundPgpKeys>>()
const inbound = new WeakMap<InboundPgpSettings, Promise<InboundPgpKeys>>()

export function outboundPgpKeys(settings: OutboundPgpSettings): Promise<OutboundPgpKeys> {
  let keys = outbound.get(settings)
  if (!keys) {
    keys = openOutboundPgp(settings)
    outbound.set(settings, keys)
  }
  return keys
}

export function inboundPgpKeys(settings: InboundPgpSettings): Promise<InboundPgpKeys> {
  let keys = inbound.get(settings)
  if (!keys) {
    keys = openInboundPgp(settings)
    inbound.set(settings, keys)
  }
  return keys
}
