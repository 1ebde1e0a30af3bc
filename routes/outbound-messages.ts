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
import { FlowParams } from '../schemas/common.js'
import { OutboundMessageQuery } from '../schemas/exports.js'
import type { Bridge } from '../src/bridge.js'
import { isBridgeError, toBridgeError } from '../src/domain/errors.js'
import { outboundAck, parseOutboundMessage, soapFault } from '../src/domain/outbound-message.js'

const sameSecret = (a: string, b: string) =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())

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
        },
      },
      errorHandler: (error, _request, reply) => {
        const status = error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 413 : 400
        return reply.code(status).type('text/xml').send(soapFault('soapenv:Client', error.message))
      },
    },
    async (request, reply) => {
      const fault = (
        status: 400 | 401 | 403 | 404 | 500,
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
      let message: ReturnType<typeof parseOutboundMessage>
      try {
        message = parseOutboundMessage(request.body)
      } catch (error) {
        return fault(400, 'soapenv:Client', isBridgeError(error) ? error.message : 'malformed SOAP envelope')
      }
      const allowed = flow.outboundMessages.organizationIds.map((id) => id.slice(0, 15))
      if (!allowed.includes(message.organizationId.slice(0, 15))) {
        return fault(
          403,
          'soapenv:Client',
          `organization ${message.organizationId} is not allowed for this flow`,
        )
      }
      try {
        for (const notification of message.notifications) {
          const recordId = notification.recordId
          if (recordId === null) {
            request.log.info(
              { notification: notification.id },
              'notification without data (deleted record): nothing to export',
            )
            continue
          }
          if (notification.sObjectType.toLowerCase() !== flow.source.object.toLowerCase()) {
            // Acknowledged, not exported: Salesforce would resend a faulted message for days.
            request.log.warn(
              {
                notification: notification.id,
                sObjectType: notification.sObjectType,
                object: flow.source.object,
              },
              'notification for another object than the flow exports: skipped',
            )
            continue
          }
          await bridge.exports.submit(
            flow.name,
            {
              recordIds: [recordId],
              metadata: {
                notificationId: notification.id,
                actionId: message.actionId,
                sObjectType: notification.sObjectType,
              },
            },
            {
              trigger: 'outbound-message',
              idempotencyKey: `outbound-message:${flow.name}:${notification.id}`,
            },
          )
        }
      } catch (error) {
        const e = toBridgeError(error)
        request.log.error(
          { code: e.code, err: e.message },
          'outbound message not recorded; Salesforce will retry',
        )
        return fault(
          e.code === 'VALIDATION_FAILED' ? 400 : 500,
          e.code === 'VALIDATION_FAILED' ? 'soapenv:Client' : 'soapenv:Server',
          e.message,
        )
      }
      return reply.code(200).type('text/xml; charset=utf-8').send(outboundAck())
    },
  )
}

export default outboundMessages
