/** An endpoint's `resume` block: continuing a transfer cut mid-file instead of starting it again. */
import { Type as T } from '@sinclair/typebox'

export const ResumeConfigSchema = T.Object(
  {
    enabled: T.Boolean({
      default: true,
      description:
        'Continue a transfer cut mid-file at the byte where it stopped, on a new connection (SFTP read/write at the offset, FTP REST+RETR / APPE). false: a cut transfer starts again from zero.',
    }),
    maxPerAttempt: T.Integer({
      minimum: 0,
      maximum: 1000,
      default: 32,
      description:
        "Continuations allowed within one attempt of a file; one more cut fails the attempt, which is retried from zero under the flow's retry policy.",
    }),
    baseDelayMs: T.Integer({
      minimum: 0,
      default: 250,
      description:
        'Backoff before the first reconnect of a continuation; doubles for each further one (full jitter).',
    }),
    maxDelayMs: T.Integer({
      minimum: 0,
      default: 10_000,
      description: 'Cap of the backoff between reconnects of a continuation.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'Resumable transfers: how a transfer cut mid-file continues.',
  },
)
