/** The notification outbox: what was sent, what waits, what failed (no secrets). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import { ErrorRef } from '../schemas/common.js'
import { ListNotificationsQuery, NOTIFICATIONS_PAGE_LIMIT } from '../schemas/notifications.js'
import type { Bridge } from '../src/bridge.js'

const notifications: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  app.get(
    '/v1/notifications',
    {
      schema: {
        operationId: 'listNotifications',
        summary: 'The notification outbox, newest first, paged by cursor',
        description:
          'Every message the rules and rejections produced, per channel: pending, sending, sent or failed, with attempts and the last error. A webhook shows its host only.',
        tags: ['notifications'],
        querystring: ListNotificationsQuery,
        response: { 200: T.Ref('NotificationList'), 400: ErrorRef, 401: ErrorRef },
      },
    },
    async (request) => {
      const { state, channel, cursor, limit } = request.query
      return bridge.notifications.list({
        limit: limit ?? NOTIFICATIONS_PAGE_LIMIT,
        ...(state ? { state } : {}),
        ...(channel ? { channel } : {}),
        ...(cursor ? { cursor } : {}),
      })
    },
  )
}

export default notifications
