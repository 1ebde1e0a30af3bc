/**
 * Parameters of the console's pages and forms. The console is hidden from
 * the OpenAPI document (it answers HTML), so these carry no $id; they
 * validate all the same, and a bad value answers 400 naming the field.
 */
import { Type as T } from '@sinclair/typebox'
import { ItemStates, OutboxStates, RunStates } from '../src/ports/store.js'

const Cursor = T.String({ minLength: 1, maxLength: 512 })
/** A datetime-local input's value (UTC on the page), or a full ISO 8601 date-time. */
const Moment = T.String({ maxLength: 40, pattern: '^$|^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}' })
const Id = T.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.-]+$' })

export const ConsoleRunsQuery = T.Object(
  {
    flow: T.Optional(T.String({ maxLength: 100 })),
    state: T.Optional(T.Union([T.Literal(''), ...RunStates.map((s) => T.Literal(s))])),
    from: T.Optional(Moment),
    to: T.Optional(Moment),
    cursor: T.Optional(Cursor),
  },
  { additionalProperties: false },
)

export const ConsoleRunParams = T.Object({ id: Id }, { additionalProperties: false })

export const ConsoleRunQuery = T.Object(
  {
    state: T.Optional(T.Union([T.Literal(''), ...ItemStates.map((s) => T.Literal(s))])),
    cursor: T.Optional(Cursor),
    /** Which action the page was reached from (a fixed set: the page words it). */
    done: T.Optional(T.Union([T.Literal('retry'), T.Literal('cancel')])),
    n: T.Optional(T.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
)

export const ConsoleFlowParams = T.Object({ flow: Id }, { additionalProperties: false })
export const ConsoleEndpointParams = T.Object({ name: Id }, { additionalProperties: false })
export const ConsoleRejectionsQuery = T.Object(
  { flow: T.Optional(T.String({ maxLength: 100 })) },
  { additionalProperties: false },
)

export const ConsoleNotificationsQuery = T.Object(
  {
    state: T.Optional(T.Union([T.Literal(''), ...OutboxStates.map((s) => T.Literal(s))])),
    channel: T.Optional(T.String({ maxLength: 100 })),
    cursor: T.Optional(Cursor),
  },
  { additionalProperties: false },
)

/** A console form: the CSRF token and whatever fields the form has. */
export const ConsoleForm = T.Object(
  { _csrf: T.Optional(T.String({ maxLength: 200 })) },
  { additionalProperties: T.String({ maxLength: 2000 }) },
)

export const SignInForm = T.Object(
  { _csrf: T.Optional(T.String({ maxLength: 200 })), apiKey: T.Optional(T.String({ maxLength: 1000 })) },
  { additionalProperties: false },
)
