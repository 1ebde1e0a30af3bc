/**
 * Salesforce Outbound Messages (SOAP 1.1). Salesforce cannot send our API
 * key, so this route is public and authenticates by the flow's shared
 * secret in the URL and its organization allowlist. Every notification is
 * recorded durably (one export job each, deduplicated by notification id)
 * before the Ack is sent; anything else answers a SOAP fault, and
 * Salesforce retries.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import type { FastifyBaseLogger } from 'fastify'
import { FlowParams } from '../schemas/common.js'
import { OutboundMessageQuery } from '../schemas/exports.js'
import type { Bridge } from '../src/bridge.js'
import { isBridgeError, toBridgeError } from '../src/domain/errors.js'
import { outboundMessageKey } from '../src/domain/idempotency-keys.js'
import {
  OUTBOUND_MESSAGE_BUDGET,
  type OutboundMessage,
  outboundAck,
  parseOutboundMessage,
  screenOutboundMessage,
  soapFault,
} from '../src/domain/outbound-message.js'
import type { ExportRequest } from '../src/flows/outbound/request.js'

const sameSecret = (a: string, b: string) =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())

/**
 * One export per notification with data, keyed by its notification id. The
 * same id twice in one message (Salesforce never sends that) is recorded once,
 * the first occurrence, and acknowledged: a fault would make Salesforce resend
 * the same message for 24 hours and hold back every later notification.
 */
function exportEntries(flow: string, object: string, message: OutboundMessage, log: FastifyBaseLogger) {
  const seen = new Map<string, string | null>()
  const entries: { request: ExportRequest; idempotencyKey: string }[] = []
  for (const notification of message.notifications) {
    const { id, recordId } = notification
    if (seen.has(id)) {
      log.warn(
        { notification: id, recordId, recorded: seen.get(id) },
        'notification id repeated in one message: only its first occurrence is recorded',
      )
      continue
    }
    seen.set(id, recordId)
    if (recordId === null) {
      log.info({ notification: id }, 'notification without data (deleted record): nothing to export')
      continue
    }
    if (notification.sObjectType.toLowerCase() !== object.toLowerCase()) {
      // Acknowledged, not exported: Salesforce would resend a faulted message for days.
      log.warn(
        { notification: id, sObjectType: notification.sObjectType, object },
        'notification for another object than the flow exports: skipped',
      )
      continue
    }
    entries.push({
      request: {
        recordIds: [recordId],
        metadata: { notificationId: id, actionId: message.actionId, sObjectType: notification.sObjectType },
      },
      idempotencyKey: outboundMessageKey(flow, id),
    })
  }
  return entries
}

/** The org id as sent is input: kept short in the fault. */
const clip = (value: string) => (value.length > 40 ? `${value.slice(0, 40)}…` : value)

const outboundMessages: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  app.addContentTypeParser(
    ['text/xml', 'application/xml', 'application/soap+xml'],
    { parseAs: 'string', bodyLimit: bridge.config.server.bodyLimitBytes },
    (_request, body, done) => done(null, body),
  )

  app.post(
    '/v1/outbound-messages/:flow',
    {
      config: { public: true },
      schema: {
        // Salesforce calls this listener itself (SOAP, text/xml): it is not an
        // External Services operation, so it stays out of the OpenAPI document.
        hide: true,
        operationId: 'receiveOutboundMessage',
        summary:
          'Salesforce Outbound Message listener (SOAP 1.1); answers the Ack once every notification is recorded',
        tags: ['exports'],
        params: FlowParams,
        querystring: OutboundMessageQuery,
        consumes: ['text/xml'],
        produces: ['text/xml'],
        response: {
          200: T.String({ description: 'SOAP Ack' }),
          400: T.String({ description: 'SOAP fault' }),
          401: T.String({ description: 'SOAP fault' }),
          403: T.String({ description: 'SOAP fault' }),
          404: T.String({ description: 'SOAP fault' }),
          413: T.String({ description: 'SOAP fault' }),
          500: T.String({ description: 'SOAP fault' }),
          503: T.String({ description: 'SOAP fault' }),
        },
      },
      errorHandler: (error, request, reply) => {
        const status = error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 413 : 400
        const clientFault = error.validation !== undefined || (error.statusCode ?? 500) < 500
        if (clientFault) {
          return reply.code(status).type('text/xml').send(soapFault('soapenv:Client', error.message))
        }
        // Anything else is ours: the log has it, the fault says nothing of it.
        request.log.error({ err: error }, 'outbound message failed')
        return reply.code(500).type('text/xml').send(soapFault('soapenv:Server', 'internal error'))
      },
    },
    async (request, reply) => {
      const fault = (
        status: 400 | 401 | 403 | 404 | 500 | 503,
        code: 'soapenv:Client' | 'soapenv:Server',
        message: string,
      ) => reply.code(status).type('text/xml; charset=utf-8').send(soapFault(code, message))
      const flow = bridge.config.flows.find((f) => f.name === request.params.flow)
      if (flow?.kind !== 'outbound' || !flow.outboundMessages) {
        return fault(404, 'soapenv:Client', `no outbound-message flow "${request.params.flow}"`)
      }
      if (!sameSecret(request.query.secret, flow.outboundMessages.secret)) {
        return fault(401, 'soapenv:Client', 'wrong secret')
      }
      if (typeof request.body !== 'string')
        return fault(400, 'soapenv:Client', 'expected a text/xml SOAP envelope')
      const allowed = flow.outboundMessages.organizationIds.map((id) => id.slice(0, 15))
      const notAllowed = (organizationId: string) =>
        fault(403, 'soapenv:Client', `organization ${clip(organizationId)} is not allowed for this flow`)
      const budget = { ...OUTBOUND_MESSAGE_BUDGET, maxBytes: bridge.config.server.bodyLimitBytes }
      let message: ReturnType<typeof parseOutboundMessage>
      try {
        // The secret is checked; the org next, from one bounded scan, before the envelope is parsed.
        const { organizationId } = screenOutboundMessage(request.body, budget)
        if (organizationId !== undefined && !allowed.includes(organizationId.slice(0, 15))) {
          return notAllowed(organizationId)
        }
        message = parseOutboundMessage(request.body, budget)
      } catch (error) {
        return fault(400, 'soapenv:Client', isBridgeError(error) ? error.message : 'malformed SOAP envelope')
      }
      if (!allowed.includes(message.organizationId.slice(0, 15))) return notAllowed(message.organizationId)
      const entries = exportEntries(flow.name, flow.source.object, message, request.log)
      let failures: unknown[]
      try {
        const results = await bridge.exports.submitMany(flow.name, entries, { trigger: 'outbound-message' })
        failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
      } catch (error) {
        failures = [error]
      }
      if (failures.length > 0) {
        const e = toBridgeError(failures[0])
        request.log.error(
          { code: e.code, err: e.message, failed: failures.length },
          'outbound message not recorded; Salesforce will retry',
        )
        if (e.code === 'VALIDATION_FAILED') return fault(400, 'soapenv:Client', e.message)
        // Server faults say nothing of what failed inside: the log has it.
        if (e.code === 'QUEUE_FULL') return fault(503, 'soapenv:Server', 'the service is busy; retry later')
        return fault(500, 'soapenv:Server', 'internal error')
      }
      return reply.code(200).type('text/xml; charset=utf-8').send(outboundAck())
    },
  )
}

export default outboundMessages
