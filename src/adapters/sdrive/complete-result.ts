/**
 * Step 3 answer parsing. The resultObject field names are not documented, so
 * several spellings are accepted; an answer without per-file results means
 * the whole batch succeeded.
 */
import type { CompleteResult } from '../../ports/sdrive.js'

const idFields = ['wipFileId', 'wipId', 'id', 'fileObjectId', 'fileId', 'recordId'] as const
const successWords = new Set(['success', 'succeeded', 'ok', 'completed', 'complete', 'done', 'true'])

function resultList(answer: unknown): unknown[] | null {
  let body = answer
  if (typeof body === 'string') {
    if (body.trim() === '') return null
    try {
      body = JSON.parse(body)
    } catch {
      return null
    }
  }
  if (Array.isArray(body)) return body
  if (body && typeof body === 'object') {
    for (const key of ['resultObjects', 'results', 'resultObject']) {
      const value = (body as Record<string, unknown>)[key]
      if (Array.isArray(value)) return value
    }
  }
  return null
}

function itemId(item: Record<string, unknown>): string | undefined {
  for (const field of idFields) {
    const value = item[field]
    if (typeof value === 'string' && value.length > 0) return value
  }
  return undefined
}

function itemSuccess(item: Record<string, unknown>): boolean {
  if (typeof item.success === 'boolean') return item.success
  if (typeof item.isSuccess === 'boolean') return item.isSuccess
  for (const field of ['status', 'result', 'state']) {
    const value = item[field]
    if (typeof value === 'string') return successWords.has(value.toLowerCase())
    if (typeof value === 'boolean') return value
  }
  if (typeof item.statusCode === 'number') return item.statusCode >= 200 && item.statusCode < 300
  // No status field but listed, and no error text: treat as done.
  return itemMessage(item) === undefined
}

function itemMessage(item: Record<string, unknown>): string | undefined {
  for (const field of ['message', 'errorMessage', 'error']) {
    const value = item[field]
    if (typeof value === 'string' && value.length > 0) return value
  }
  if (Array.isArray(item.errors) && item.errors.length > 0) {
    return item.errors
      .map((e) =>
        typeof e === 'string' ? e : String((e as { message?: unknown })?.message ?? JSON.stringify(e)),
      )
      .join('; ')
  }
  return undefined
}

export function parseCompleteAnswer(wipFileIds: readonly string[], answer: unknown): CompleteResult[] {
  const list = resultList(answer)
  if (!list || list.length === 0) return wipFileIds.map((wipFileId) => ({ wipFileId, success: true }))
  const items = list.map((raw) => (raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {}))
  const byId = new Map<string, Record<string, unknown>>()
  for (const item of items) {
    const id = itemId(item)
    if (id) byId.set(id, item)
  }
  // Without ids, results are taken to follow the request order.
  const positional = byId.size === 0 && items.length === wipFileIds.length
  return wipFileIds.map((wipFileId, i) => {
    const item = byId.get(wipFileId) ?? (positional ? items[i] : undefined)
    if (!item) return { wipFileId, success: false, message: 'S-Drive returned no result for this file' }
    const success = itemSuccess(item)
    const message = itemMessage(item)
    return { wipFileId, success, ...(message !== undefined && !success ? { message } : {}) }
  })
}
