/** Salesforce REST, as the rest of the code needs it. Adapters: src/adapters/salesforce. */
export interface ApiUsage {
  used: number
  limit: number
}

export interface SalesforceCallOptions {
  signal?: AbortSignal
  /**
   * While the org is at its API limit: 'wait' (default) holds the call at the
   * org-wide gate until the limit lifts; 'fail' throws API_LIMIT_EXCEEDED at
   * once (for callers that answer a client and must not hang).
   */
  whenLimited?: 'wait' | 'fail'
}

/** The org-wide pause while Salesforce refuses calls with REQUEST_LIMIT_EXCEEDED. */
export interface ApiLimitPause {
  /** When the pause began (epoch ms). */
  since: number
  /** Probe calls made during this pause (one per probe interval). */
  probes: number
  /** Calls waiting for the pause to end. */
  waiting: number
}

export interface SaveResult {
  id: string | null
  success: boolean
  errors: { statusCode?: string; message: string; fields?: string[] }[]
}

/** What `describe` tells about one object: its API name, its fields' API names and its records' id prefix. */
export interface ObjectDescription {
  name: string
  fields: string[]
  /** The 3-character id prefix of its records; null if it has none. */
  keyPrefix: string | null
}

export interface SalesforceApi {
  /** GET sobjects/{object}/describe; null when the org has no such object (or the user cannot see it). */
  describe(object: string, options?: SalesforceCallOptions): Promise<ObjectDescription | null>
  /** Runs a SOQL query and follows nextRecordsUrl until done. */
  query<T extends Record<string, unknown> = Record<string, unknown>>(
    soql: string,
    options?: SalesforceCallOptions,
  ): Promise<T[]>
  /** Calls an Apex REST resource (path below /services/apexrest). */
  apex<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    options?: SalesforceCallOptions,
  ): Promise<T>
  /** Creates many records (sObject Collections, ≤200 per call). */
  createRecords(
    sobject: string,
    records: Record<string, unknown>[],
    options?: SalesforceCallOptions,
  ): Promise<SaveResult[]>
  /** PATCH many records (sObject Collections, ≤200 per call). */
  updateRecords(
    sobject: string,
    records: Record<string, unknown>[],
    options?: SalesforceCallOptions,
  ): Promise<SaveResult[]>
  /** DELETE many records (sObject Collections). */
  deleteRecords(ids: string[], options?: SalesforceCallOptions): Promise<SaveResult[]>
  /** Authenticates if needed; throws SALESFORCE_AUTH_FAILED if it cannot. */
  checkAuth(options?: SalesforceCallOptions): Promise<void>
  /** Latest Sforce-Limit-Info reading, if any response carried one. */
  apiUsage(): ApiUsage | null
  /** The org's instance URL from the last token (record links in the console); null before sign-in. */
  instanceUrl(): string | null
  /** Number of HTTP calls made (for metrics and benchmarks). */
  callCount(): number
  /** The API-limit pause in force, or null when calls go out. */
  apiLimitPause(): ApiLimitPause | null
  /** Stops background work (the API-limit probe). */
  close(): void
}
