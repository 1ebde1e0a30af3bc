import type { ApiUsage } from '../../ports/salesforce.js'

/** Parses `Sforce-Limit-Info: api-usage=N/M` (other entries may come before or after). */
export function parseLimitInfo(header: string | null | undefined): ApiUsage | null {
  if (!header) return null
  const m = /(?:^|[\s,;])api-usage=(\d+)\/(\d+)/.exec(header)
  if (!m) return null
  return { used: Number(m[1]), limit: Number(m[2]) }
}
