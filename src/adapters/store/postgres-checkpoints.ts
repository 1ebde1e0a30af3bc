/** Where event streams stand (Pub/Sub replay ids) in the PostgreSQL store. */
import type { TriggerCheckpoint } from '../../ports/store.js'
import type { PgStoreContext, Query } from './postgres-context.js'

const tableOf = (ctx: PgStoreContext) => `"${ctx.schema}".trigger_checkpoints`

/** With the caller's query: inside createRun's transaction, the job and its position commit together. */
export async function writeCheckpoint(
  ctx: PgStoreContext,
  q: Query,
  checkpoint: TriggerCheckpoint,
): Promise<void> {
  await q(
    `INSERT INTO ${tableOf(ctx)} (stream, position, updated_at) VALUES ($1, $2, $3::timestamptz)
     ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`,
    [checkpoint.stream, checkpoint.position, ctx.isoNow()],
  )
}

export async function getCheckpoint(ctx: PgStoreContext, stream: string): Promise<string | null> {
  const rows = await ctx.query<{ position: string }>(
    `SELECT position FROM ${tableOf(ctx)} WHERE stream = $1`,
    [stream],
  )
  return rows[0]?.position ?? null
}

export const saveCheckpoint = (ctx: PgStoreContext, checkpoint: TriggerCheckpoint) =>
  writeCheckpoint(ctx, ctx.query, checkpoint)
