import { Type as T } from '@sinclair/typebox'
import { type OutboxState, OutboxStates } from '../src/ports/store.js'
import { StringEnum } from './common.js'

const Nullable = <S extends ReturnType<typeof T.String>>(s: S) => T.Union([s, T.Null()])

export const OutboxStateSchema = StringEnum<OutboxState>(OutboxStates, {
  $id: 'OutboxState',
  title: 'OutboxState',
  description:
    'pending (due at nextAttemptAt), sending (leased by a worker), sent, failed (permanent or out of tries).',
})

export const NotificationFile = T.Object(
  { path: T.String(), code: T.String(), message: T.String() },
  { $id: 'NotificationFile', title: 'NotificationFile', additionalProperties: false },
)

export const NotificationView = T.Object(
  {
    id: T.String({ description: 'Also the webhook X-Bridge-Delivery header: a receiver’s dedupe key.' }),
    channel: T.String({
      description: 'A configured channel, or "@email" for a rejection’s own notify.email.',
    }),
    channelType: StringEnum(['webhook', 'salesforceEmail', 'platformEvent', 'email', 'unknown']),
    destination: T.String({
      description: 'A webhook’s host (never its path or secret), the email recipients, the platform event.',
    }),
    event: T.String({ description: 'run.failed, file.failed, rejection.created, flow.no_success, …' }),
    flow: Nullable(T.String()),
    runId: Nullable(T.String()),
    state: T.Ref('OutboxState'),
    attempts: T.Integer(),
    nextAttemptAt: T.String({ format: 'date-time' }),
    lastError: T.Union([
      T.Object({ code: T.String(), message: T.String() }, { additionalProperties: false }),
      T.Null(),
    ]),
    createdAt: T.String({ format: 'date-time' }),
    sentAt: Nullable(T.String({ format: 'date-time' })),
    subject: T.String(),
    text: T.String({ description: 'The one-paragraph summary (the webhook’s Slack/Teams-compatible text).' }),
    files: T.Array(T.Ref('NotificationFile'), { description: 'Up to 20 failed files.' }),
    more: T.Integer({ description: 'Failed files not listed.' }),
  },
  { $id: 'NotificationView', title: 'NotificationView', additionalProperties: false },
)

export const NotificationList = T.Object(
  {
    notifications: T.Array(T.Ref('NotificationView')),
    nextCursor: Nullable(
      T.String({ description: 'Pass as cursor for the next page; null on the last page.' }),
    ),
  },
  { $id: 'NotificationList', title: 'NotificationList', additionalProperties: false },
)

export const NOTIFICATIONS_PAGE_LIMIT = 100

export const ListNotificationsQuery = T.Object(
  {
    state: T.Optional(StringEnum<OutboxState>(OutboxStates)),
    channel: T.Optional(T.String({ minLength: 1, maxLength: 100 })),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000, default: NOTIFICATIONS_PAGE_LIMIT })),
    cursor: T.Optional(T.String({ maxLength: 200, description: 'The nextCursor of the page before.' })),
  },
  { additionalProperties: false },
)
