/** Endpoints: what is configured, and the endpoint check (identity, TLS, features, directories). */
import type { EndpointReport } from '../../ports/endpoint-check.js'
import { type Html, html } from '../html.js'
import { csrfField, page } from '../layout.js'

export interface EndpointRow {
  name: string
  protocol: string
  host: string
  port: number | null
  flows: string[]
}

export function endpointsPage(rows: EndpointRow[], csrf: string): Html {
  return page(
    { title: 'Endpoints', section: 'endpoints', csrf },
    html`<table class="grid">
      <thead><tr><th>Endpoint</th><th>Protocol</th><th>Host</th><th>Flows</th><th></th></tr></thead>
      <tbody>
        ${rows.map(
          (e) => html`<tr>
            <td>${e.name}</td>
            <td>${e.protocol}</td>
            <td>${e.host}${e.port ? `:${e.port}` : ''}</td>
            <td>${e.flows.join(', ')}</td>
            <td>
              <form method="post" action=${`/console/endpoints/${e.name}/check`}>
                ${csrfField(csrf)}<button type="submit">Check</button>
              </form>
            </td>
          </tr>`,
        )}
      </tbody>
    </table>`,
  )
}

/** The server's features as it announced them (FTP FEAT), or, for SFTP, the extensions it has. */
function featureList(features: NonNullable<EndpointReport['features']>): string {
  if (features.raw.length > 0)
    return features.raw.map((f) => (f.value ? `${f.name} ${f.value}` : f.name)).join(', ')
  const flags = Object.entries(features)
    .filter(([, value]) => value === true)
    .map(([name]) => name)
  return [...flags, ...features.hashAlgorithms.map((a) => `hash ${a}`)].join(', ') || 'none announced'
}

const yes = (v: boolean | null | undefined) => (v === true ? 'yes' : v === false ? 'no' : '—')

function identity(r: EndpointReport): Html {
  return html`<dl class="facts">
    <dt>Result</dt><dd><span class=${r.ok ? 'state state-ok' : 'state state-bad'}>${r.ok ? 'ok' : 'problem'}</span>
      ${r.error ? html` <code>${r.error.code}</code> ${r.error.message}` : null}</dd>
    <dt>Server</dt><dd>${r.protocol} ${r.host}:${r.port} · ${r.serverIdentification ?? '—'}</dd>
    <dt>Connected / logged in</dt><dd>${yes(r.connected)} / ${yes(r.authenticated)}</dd>
    ${r.hostKey ? html`<dt>Host key</dt><dd><code>${r.hostKey.fingerprint}</code> ${r.hostKey.keyType} · pinned ${r.hostKey.pinned ?? 'no'} · matches ${yes(r.hostKey.matchesPin)}</dd>` : null}
    ${r.tls ? html`<dt>TLS</dt><dd>${r.tls.version ?? '—'} ${r.tls.cipher ?? ''} · verified ${yes(r.tls.verified)}${r.tls.verificationError ? ` (${r.tls.verificationError})` : ''}</dd>` : null}
    ${r.tls?.certificate ? html`<dt>Certificate</dt><dd>${r.tls.certificate.subject} · issuer ${r.tls.certificate.issuer} · valid to ${r.tls.certificate.validTo}<br /><code>${r.tls.certificate.fingerprint256}</code></dd>` : null}
    ${r.features ? html`<dt>Features</dt><dd>${featureList(r.features)}</dd>` : null}
    ${r.clock ? html`<dt>Clock skew</dt><dd>${r.clock.skewSeconds} s (${r.clock.source})</dd>` : null}
    <dt>Took</dt><dd>${r.timings.totalMs} ms</dd>
  </dl>`
}

export function endpointReportPage(report: EndpointReport, csrf: string): Html {
  return page(
    { title: `Check of ${report.endpoint}`, section: 'endpoints', csrf },
    html`${identity(report)}
      ${report.warnings.length > 0 ? html`<ul class="warnings">${report.warnings.map((w) => html`<li>${w}</li>`)}</ul>` : null}
      <table class="grid">
        <thead><tr><th>Directory</th><th>Exists</th><th>Writable</th><th>Rename</th><th>Ok</th><th>Error</th></tr></thead>
        <tbody>
          ${report.directories.map(
            (d) => html`<tr>
              <td class="path">${d.path}</td><td>${yes(d.exists)}</td><td>${yes(d.writable)}</td>
              <td>${yes(d.canRename)}</td>
              <td><span class=${d.ok ? 'state state-ok' : 'state state-bad'}>${d.ok ? 'ok' : 'no'}</span></td>
              <td>${d.error ? html`<code>${d.error.code}</code> ${d.error.message}` : null}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <p><a href="/console/endpoints">← Endpoints</a></p>`,
  )
}
