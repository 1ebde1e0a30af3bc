/**
 * One HTTP request and its answer, as a support recording keeps it: what the
 * org said, so a user can send it when it differs from the reference.
 * Adapters report exchanges raw; whoever keeps them redacts them first
 * (src/domain/exchange-redaction.ts).
 */
export interface Exchange {
  at: string
  service: 'salesforce' | 's3'
  method: string
  url: string
  /** null when no answer came (network error, abort), or for S3 successes (any 2xx; see responseBody.ok). */
  status: number | null
  durationMs: number
  requestHeaders?: Record<string, string>
  requestBody?: unknown
  responseHeaders?: Record<string, string>
  responseBody?: unknown
  error?: string
}

/** Told of every exchange; must not throw and must not block (it runs on the request path). */
export type ExchangeSink = (exchange: Exchange) => void
