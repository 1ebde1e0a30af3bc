/**
 * The match stage: the run's unmatched due files get their target record.
 * An answer to a rejection goes to the rejected file's record; the others
 * are matched by the flow's rules (batched SOQL), then the existing-file
 * policy is applied to those matched.
 */
import type { InboundFlow } from '../../config/schema.js'
import { sdriveFileName } from '../../domain/file-names.js'
import type { ItemRecord, ItemTarget } from '../../ports/store.js'
import { moveItem } from '../../runs/items.js'
import { isDue } from '../../runs/rounds.js'
import { withoutPgpSuffix } from '../../transfer/pgp/decrypt.js'
import { correlateResubmissions } from '../review/resubmit.js'
import { indexColumnsOf } from './batch-match.js'
import { type RunContext, relativeDirOf } from './context.js'
import { applyExistingPolicy } from './existing.js'
import { type MatchResult, matchFiles } from './record-matcher.js'

export async function matchPending(ctx: RunContext, flow: InboundFlow, items: ItemRecord[]): Promise<void> {
  const now = ctx.clock.now()
  const unmatched = items.filter((i) => i.state === 'pending' && i.target === null && isDue(i, now))
  if (unmatched.length === 0) return
  const answers = await targetResubmissions(ctx, flow, unmatched)
  const answered = unmatched.filter((i) => !answers.has(i))
  const indexed = await indexColumnsOf(ctx, flow, answered)
  const rest = answered.filter((i) => !indexed.settled.has(i.id))
  if (rest.length === 0) return
  const candidates = rest.map((item) => {
    const index = indexed.columns.get(item.id)
    return { item, name: item.name, relativeDir: relativeDirOf(flow, item.path), ...(index ? { index } : {}) }
  })
  const results = await matchFiles(candidates, flow, ctx.sf, ctx.control.shutdown, now)
  // The outcomes are written side by side: one commit for the whole run's files, not one each.
  const outcomes = await Promise.all(
    candidates.map((c) => {
      const result = results.get(c)
      return result ? storeMatch(ctx, flow, c.item, result) : null
    }),
  )
  const matched = outcomes.filter((i): i is ItemRecord => i !== null)
  if (matched.length > 0) await applyExistingPolicy(ctx, flow, matched)
}

/** Answers to a rejection go to the rejected file's record, whatever the match rules say. Returns those. */
async function targetResubmissions(
  ctx: RunContext,
  flow: InboundFlow,
  unmatched: ItemRecord[],
): Promise<ReadonlySet<ItemRecord>> {
  const resubmissions = await correlateResubmissions(
    flow,
    unmatched,
    ctx.store,
    ctx.sdrive,
    ctx.control.shutdown,
  )
  await Promise.all(
    [...resubmissions].map(async ([item, { review, target }]) => {
      await ctx.store.updateItem(item.id, { target, error: null })
      ctx.logger.info(
        { flow: flow.name, file: item.path, correlationId: review.correlationId },
        'resubmission received',
      )
    }),
  )
  return new Set(resubmissions.keys())
}

/** Stores a file's match: its target, a later try, or its failure. Returns the item when it matched. */
async function storeMatch(
  ctx: RunContext,
  flow: InboundFlow,
  item: ItemRecord,
  result: MatchResult,
): Promise<ItemRecord | null> {
  if (result.ok)
    return ctx.store.updateItem(item.id, { target: decryptedTarget(flow, item, result.target), error: null })
  ctx.events.emit({ type: 'fault', flow: flow.name, code: result.code, runId: item.runId, itemId: item.id })
  if (result.transient) {
    // Matching is tried again later: after the flow's longest backoff when the org is at its API
    // limit (a pause, not a burnt retry), else after its base delay.
    const wait = result.code === 'API_LIMIT_EXCEEDED' ? flow.retry.maxDelayMs : flow.retry.baseDelayMs
    await ctx.store.updateItem(item.id, {
      error: { code: result.code, message: result.message },
      nextAttemptAt: new Date(ctx.clock.now() + wait).toISOString(),
    })
  } else {
    await moveItem(ctx.store, item, 'failed', { error: { code: result.code, message: result.message } })
  }
  return null
}

/** A PGP flow's file goes to S-Drive decrypted, named without its .pgp/.gpg/.asc (a resubmission keeps the original's name). */
function decryptedTarget(flow: InboundFlow, item: ItemRecord, target: ItemTarget): ItemTarget {
  if (!flow.pgp || target.sdriveName !== undefined) return target
  return { ...target, sdriveName: sdriveFileName(withoutPgpSuffix(item.name)) }
}
