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

/** One field as describe shows it to the run-as user (a field the user cannot read is not listed at all). */
export interface FieldDescription {
  name: string
  /** Salesforce's field type: string, boolean, reference, double, date, datetime, picklist, … */
  type: string | null
  /** null when describe did not say. */
  createable: boolean | null
  updateable: boolean | null
}

/** Object-level permissions of the run-as user, as describe reports them; null where it did not say. */
export interface ObjectAccess {
  createable: boolean | null
  updateable: boolean | null
  deletable: boolean | null
  queryable: boolean | null
}

/** One input's answer from an invocable action (e.g. emailSimple). */
export interface ActionResult {
  actionName: string
  isSuccess: boolean
  errors: { statusCode?: string; message: string }[]
  outputValues: Record<string, unknown> | null
}

/** What `describe` tells about one object: its API name, its fields' API names and its records' id prefix. */
export interface ObjectDescription {
  name: string
  fields: string[]
  /** The 3-character id prefix of its records; null if it has none. */
  keyPrefix: string | null
  /** Per field: type and the run-as user's write access. */
  fieldDetails?: FieldDescription[]
  access?: ObjectAccess
}

/** Who the calls run as, from the token's identity URL. */
export interface SalesforceIdentity {
  /** The identity URL (…/id/<orgId>/<userId>). */
  url: string
  orgId: string
  userId: string
}

export interface SessionCredentials {
  accessToken: string
  instanceUrl: string
  orgId: string
}

export interface SalesforceApi {
  /** GET sobjects/{object}/describe; null when the org has no such object (or the user cannot see it). */
  describe(object: string, options?: SalesforceCallOptions): Promise<ObjectDescription | null>
  /** Runs a SOQL query and follows nextRecordsUrl until done. */
  query<T extends Record<string, unknown> = Record<string, unknown>>(
    soql: string,
    options?: SalesforceCallOptions,
  ): Promise<T[]>
  /** Like query, or null as soon as the query is known to match more than maxRecords (no more pages read). */
  queryAtMost<T extends Record<string, unknown> = Record<string, unknown>>(
    soql: string,
    maxRecords: number,
    options?: SalesforceCallOptions,
  ): Promise<T[] | null>
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
  /** Creates one record (POST sobjects/{object}/); a platform event (…__e) is published this way. */
  createRecord(
    sobject: string,
    fields: Record<string, unknown>,
    options?: SalesforceCallOptions,
  ): Promise<SaveResult>
  /** Runs a standard invocable action (POST actions/standard/{action}) with one input per element. */
  invokeStandardAction(
    action: string,
    inputs: Record<string, unknown>[],
    options?: SalesforceCallOptions,
  ): Promise<ActionResult[]>
  /** DELETE many records (sObject Collections). */
  deleteRecords(ids: string[], options?: SalesforceCallOptions): Promise<SaveResult[]>
  /**
   * A GET of any REST resource: a path below /services/data/vXX.X (e.g. /limits), a path from
   * /services/ on (e.g. /services/data for the versions), or the absolute identity URL.
   */
  get<T = unknown>(path: string, options?: SalesforceCallOptions): Promise<T>
  /** Who the session runs as; null before the first login or when the token answer had no identity URL. */
  identity(): SalesforceIdentity | null
  /**
   * The session for other Salesforce APIs (the Pub/Sub API's accesstoken,
   * instanceurl and tenantid headers); `renew` mints a new token first (the
   * old one was refused). Never logged.
   */
  sessionCredentials(options?: { renew?: boolean }): Promise<SessionCredentials>
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
