/**
 * The conformance probe's report and how its verdicts add up. Pure: checks
 * come in, the overall verdict and the exit code go out.
 *
 * A check is `ok` when the org was seen to do what the configuration needs,
 * `wrong` when it was seen not to (a flow would fail), and `unknown` when
 * the org did not say (the reference leaves the point open, or the answer
 * was one we do not recognise): unknown never fails the probe on its own,
 * but it asks for the recording to be sent.
 */

export type Verdict = 'ok' | 'wrong' | 'unknown'

export interface OrgCheck {
  /** Stable id, e.g. auth, sdrive.package, schema:cg__AccountFile__c.cg__Is_Deleted__c:update */
  id: string
  title: string
  verdict: Verdict
  /** The configuration key that decides it (flows[0].target.parentField, sdrive.s3UploadUrl); null for facts of the org. */
  keyPath: string | null
  /** What was seen: the answer, the field's type, the status code. */
  evidence: string
}

export interface OrgFacts {
  username: string | null
  userId: string | null
  orgId: string | null
  orgName: string | null
  edition: string | null
  isSandbox: boolean | null
  apiVersion: string
  latestApiVersion: string | null
  apiUsage: { used: number; limit: number } | null
  sdriveVersion: string | null
}

export function check(
  id: string,
  title: string,
  verdict: Verdict,
  evidence: string,
  keyPath: string | null = null,
): OrgCheck {
  return { id, title, verdict, keyPath, evidence }
}

/** wrong beats unknown beats ok. */
export function overallVerdict(checks: readonly OrgCheck[]): Verdict {
  if (checks.some((c) => c.verdict === 'wrong')) return 'wrong'
  if (checks.some((c) => c.verdict === 'unknown')) return 'unknown'
  return 'ok'
}

/** Non-zero exactly when something would make a flow fail. */
export function exitCodeOf(checks: readonly OrgCheck[]): number {
  return overallVerdict(checks) === 'wrong' ? 1 : 0
}

/** Compares "63.0"-style versions numerically. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number)
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number)
  return aMajor - bMajor || aMinor - bMinor
}
