/** Where event streams stand (Pub/Sub replay ids) in the SQLite store. */
import type { TriggerCheckpoint } from '../../ports/store.js'
import type { SqliteStoreContext } from './sqlite-context.js'

/** Inside a write transaction of the caller's (createRun's, so the job and its position commit together). */
export function writeCheckpoint(ctx: SqliteStoreContext, checkpoint: TriggerCheckpoint): void {
  ctx
    .db()
    .prepare(
      `INSERT INTO trigger_checkpoints (stream, position, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (stream) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
    )
    .run(checkpoint.stream, checkpoint.position, ctx.isoNow())
}

export function getCheckpoint(ctx: SqliteStoreContext, stream: string): string | null {
  const row = ctx
    .db()
    .prepare<[string], { position: string }>('SELECT position FROM trigger_checkpoints WHERE stream = ?')
    .get(stream)
  return row?.position ?? null
}

export function saveCheckpoint(ctx: SqliteStoreContext, checkpoint: TriggerCheckpoint): Promise<void> {
  return ctx.write(() => writeCheckpoint(ctx, checkpoint))
}
