/**
 * PostgreSQL schema migrations in the order they apply, kept apart from the
 * SQLite ones because the dialects differ (timestamptz, jsonb, bigint); the
 * version numbers of both lists describe the same logical schema. TypeScript
 * modules rather than .sql files so tsc ships them without a copy step.
 * Never edit a released migration; add the next version instead.
 */
import type { Migration } from '../migrations/index.js'
import { sql as initial } from './001-initial.js'
import { sql as exportJobs } from './002-export-jobs.js'
import { sql as reviewAndStatus } from './003-review-and-status.js'
import { sql as runLeases } from './004-run-leases.js'
import { sql as retention } from './005-retention.js'
import { sql as nothingToExport } from './006-nothing-to-export.js'
import { sql as auditTrail } from './007-audit-trail.js'
import { sql as outbox } from './008-outbox.js'
import { sql as console } from './009-console.js'
import { sql as fileDigests } from './010-file-digests.js'
import { sql as batches } from './011-batches.js'
import { sql as bytesMoved } from './013-bytes-moved.js'
import { sql as eventTriggers } from './014-event-triggers.js'
import { sql as pollClaims } from './015-poll-claims.js'

export type { Migration }

export const migrations: readonly Migration[] = [
  { version: 1, name: 'initial', sql: initial },
  { version: 2, name: 'export-jobs', sql: exportJobs },
  { version: 3, name: 'review-and-status', sql: reviewAndStatus },
  { version: 4, name: 'run-leases', sql: runLeases },
  { version: 5, name: 'retention', sql: retention },
  { version: 6, name: 'nothing-to-export', sql: nothingToExport },
  { version: 7, name: 'audit-trail', sql: auditTrail },
  { version: 8, name: 'outbox', sql: outbox },
  { version: 9, name: 'console', sql: console },
  { version: 10, name: 'file-digests', sql: fileDigests },
  { version: 11, name: 'batches', sql: batches },
  { version: 13, name: 'bytes-moved', sql: bytesMoved },
  { version: 14, name: 'event-triggers', sql: eventTriggers },
  { version: 15, name: 'poll-claims', sql: pollClaims },
]
