/** Signed S3 download links from S-Drive's GET /files. */
import { BridgeError } from '../../domain/errors.js'
import type { SDriveCallOptions } from '../../ports/sdrive.js'
import { callApex, chunk, encodeIds, type SDriveContext } from './context.js'

/** Ids per GET /files call: two id lists of this length stay well inside the URL limit. */
const DOWNLOAD_CHUNK = 100

/** `{"fileUrls": [...]}` as documented; a bare array is accepted too. */
function parseFileUrls(answer: unknown): string[] {
  const list = Array.isArray(answer) ? answer : (answer as { fileUrls?: unknown } | null)?.fileUrls
  if (!Array.isArray(list) || !list.every((u) => typeof u === 'string')) {
    throw new BridgeError('SDRIVE_ERROR', 'S-Drive GET /files answered without fileUrls')
  }
  return list as string[]
}

export async function downloadUrls(
  ctx: SDriveContext,
  files: { id: string; parentId: string }[],
  options?: SDriveCallOptions,
): Promise<string[]> {
  const urls: string[] = []
  for (const part of chunk(files, DOWNLOAD_CHUNK)) {
    const query = `fileObjectId=${encodeIds(
      ctx,
      part.map((f) => f.id),
    )}&parentId=${encodeIds(
      ctx,
      part.map((f) => f.parentId),
    )}&timeValue=${ctx.config.linkLifetimeSeconds}`
    const answer = await callApex<unknown>(
      ctx,
      'GET',
      `${ctx.config.filesPath}?${query}`,
      undefined,
      'GET /files',
      options,
    )
    const list = parseFileUrls(answer)
    if (list.length !== part.length) {
      throw new BridgeError(
        'SDRIVE_ERROR',
        `S-Drive returned ${list.length} download links for ${part.length} files`,
      )
    }
    urls.push(...list)
  }
  return urls
}
