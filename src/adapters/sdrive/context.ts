/** What every S-Drive operation works with: the Salesforce API, the sdrive config, a logger. */
import type { Logger } from 'pino'
import type { SDriveConfig } from '../../config/schema.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { SDriveCallOptions } from '../../ports/sdrive.js'
import { sdriveError } from './errors.js'

export interface SDriveContext {
  sf: SalesforceApi
  config: SDriveConfig
  log: Logger
}

/** An S-Drive Apex REST call whose failure becomes an SDRIVE error naming `what` was being done. */
export async function callApex<T>(
  ctx: SDriveContext,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body: unknown,
  what: string,
  options?: SDriveCallOptions,
): Promise<T> {
  try {
    return await ctx.sf.apex<T>(method, path, body, options)
  } catch (error) {
    throw sdriveError(error, what)
  }
}

/** An id list as the S-Drive REST endpoints take it (sdrive.idListEncoding), URL-encoded. */
export function encodeIds(ctx: SDriveContext, ids: readonly string[]): string {
  return encodeURIComponent(ctx.config.idListEncoding === 'json' ? JSON.stringify(ids) : ids.join(','))
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
