/** The conformance probe's report as the CLI prints it. */
import type { OrgReport } from './services/org-check/index.js'

const marks = { ok: 'ok     ', wrong: 'WRONG  ', unknown: 'unknown' } as const

export function formatOrgReport(report: OrgReport, recording: string | null): string {
  const f = report.facts
  const usage = f.apiUsage ? `${f.apiUsage.used}/${f.apiUsage.limit}` : '?'
  const lines = [
    `org ${f.orgName ?? '?'} (${f.orgId ?? '?'}), ${f.edition ?? 'edition ?'}${f.isSandbox ? ', sandbox' : ''}`,
    `user ${f.username ?? '?'} (${f.userId ?? '?'})`,
    `API ${f.apiVersion} (latest ${f.latestApiVersion ?? '?'}), usage ${usage}, S-Drive ${f.sdriveVersion ?? 'version ?'}`,
    '',
  ]
  for (const c of report.checks) {
    lines.push(`${marks[c.verdict]}  ${c.title}${c.keyPath ? `  [${c.keyPath}]` : ''}`)
    lines.push(`         ${c.evidence}`)
  }
  lines.push('', 'suggested configuration:', report.suggestedYaml.trimEnd(), '')
  const counts = (['ok', 'wrong', 'unknown'] as const).map(
    (v) => `${report.checks.filter((c) => c.verdict === v).length} ${v}`,
  )
  lines.push(
    `verdict: ${report.verdict.toUpperCase()} (${counts.join(', ')})${report.wrote ? '' : '; read-only'}`,
  )
  if (report.verdict === 'unknown' || recording) {
    lines.push(
      recording
        ? `recording: ${recording} (redacted; send it with the report when something is unknown)`
        : 'something is unknown: run again with --record DIR and send the file it writes',
    )
  }
  return `${lines.join('\n')}\n`
}
