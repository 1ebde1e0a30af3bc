/**
 * What the sandbox records of notifications: emails the org was asked to
 * send (the standard emailSimple action), platform events published, and
 * deliveries to its webhook receiver. It verifies nothing itself (tests
 * check signatures); it records, answers and tells waiters.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { ApiResult } from './http.js'

export interface SandboxEmail {
  to: string[]
  subject: string
  body: string
  at: number
}

export interface SandboxPlatformEvent {
  sobject: string
  id: string
  fields: Record<string, unknown>
  at: number
}

export interface WebhookDelivery {
  /** The receiver's name: the last path segment of /sandbox/webhooks/<name>. */
  name: string
  headers: IncomingHttpHeaders
  /** The raw body, as signed. */
  body: string
  /** The status the receiver answered. */
  status: number
  at: number
}

type Waiter = { count: number; resolve: () => void; kind: 'email' | 'webhook' | 'event'; name?: string }

function isInput(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

export class SandboxNotifications {
  readonly emails: SandboxEmail[] = []
  readonly platformEvents: SandboxPlatformEvent[] = []
  readonly deliveries: WebhookDelivery[] = []
  /** Statuses the next webhook deliveries get (then 200). */
  private readonly answers: number[] = []
  private readonly waiters = new Set<Waiter>()
  private eventIds = 0

  constructor(private readonly now: () => number) {}

  respondToWebhooks(statuses: number[]): void {
    this.answers.push(...statuses)
  }

  /** POST …/actions/standard/emailSimple: one result per input, isSuccess false for an incomplete one. */
  emailSimple(body: unknown): ApiResult {
    const inputs = isInput(body) && Array.isArray(body.inputs) ? body.inputs : null
    if (!inputs || inputs.length === 0) {
      return {
        status: 400,
        body: [{ errorCode: 'JSON_PARSER_ERROR', message: 'inputs must be a non-empty array' }],
      }
    }
    const results = inputs.map((input) => {
      const fields = isInput(input) ? input : {}
      const missing = ['emailAddresses', 'emailSubject', 'emailBody'].filter(
        (key) => typeof fields[key] !== 'string' || fields[key] === '',
      )
      if (missing.length > 0) {
        const errors = missing.map((key) => ({
          statusCode: 'REQUIRED_FIELD_MISSING',
          message: `Missing ${key}`,
        }))
        return { actionName: 'emailSimple', errors, isSuccess: false, outputValues: null }
      }
      this.emails.push({
        to: String(fields.emailAddresses)
          .split(',')
          .map((a) => a.trim()),
        subject: String(fields.emailSubject),
        body: String(fields.emailBody),
        at: this.now(),
      })
      return { actionName: 'emailSimple', errors: null, isSuccess: true, outputValues: null }
    })
    this.settle()
    return { status: 200, body: results }
  }

  /** POST …/sobjects/<X__e>/: a platform event is accepted whatever its fields, and recorded. */
  publish(sobject: string, body: unknown): ApiResult {
    if (!isInput(body))
      return { status: 400, body: [{ errorCode: 'JSON_PARSER_ERROR', message: 'not an object' }] }
    const id = `e00${String(++this.eventIds).padStart(12, '0')}AAA`
    this.platformEvents.push({ sobject, id, fields: { ...body }, at: this.now() })
    this.settle()
    return { status: 201, body: { id, success: true, errors: [] } }
  }

  /** A delivery to /sandbox/webhooks/<name>: recorded with its headers, answered with the next armed status or 200. */
  receive(name: string, headers: IncomingHttpHeaders, body: string): ApiResult {
    const status = this.answers.shift() ?? 200
    this.deliveries.push({ name, headers, body, status, at: this.now() })
    this.settle()
    return { status, body: { received: status < 300 } }
  }

  /** Resolves once `count` emails (webhook deliveries answered 2xx, platform events) were recorded. */
  waitFor(kind: Waiter['kind'], count: number, name?: string): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = { kind, count, resolve, ...(name !== undefined ? { name } : {}) }
      this.waiters.add(waiter)
      this.settle()
    })
  }

  private countOf(waiter: Waiter): number {
    if (waiter.kind === 'email') return this.emails.length
    if (waiter.kind === 'event') return this.platformEvents.length
    return this.deliveries.filter(
      (d) => d.status < 300 && (waiter.name === undefined || d.name === waiter.name),
    ).length
  }

  private settle(): void {
    for (const waiter of this.waiters) {
      if (this.countOf(waiter) >= waiter.count) {
        this.waiters.delete(waiter)
        waiter.resolve()
      }
    }
  }
}
