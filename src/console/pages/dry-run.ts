/** The plan of a dry run: each file the flow would take, and what it would do with it. */
import type { PlannedAtomicBatch } from '../../flows/inbound/dry-run.js'
import type { toPlannedFileView } from '../../services/run-views.js'
import { formatBytes } from '../format.js'
import { type Html, html } from '../html.js'
import { page } from '../layout.js'

export function dryRunPage(
  flow: string,
  files: ReturnType<typeof toPlannedFileView>[],
  csrf: string,
  atomicBatches?: PlannedAtomicBatch[],
): Html {
  return page(
    { title: `Dry run of ${flow}`, section: 'runs', csrf },
    html`<p>Nothing was moved. A run now would do this:</p>
      ${atomicBatches ? batchTable(atomicBatches) : null}
      <table class="grid">
        <thead><tr><th>File</th><th class="num">Size</th><th>Action</th><th>Record</th><th>Reason</th></tr></thead>
        <tbody>
          ${files.length === 0 ? html`<tr><td colspan="5" class="muted">No file is ready.</td></tr>` : null}
          ${files.map(
            (f) => html`<tr>
              <td class="path">${f.path}</td>
              <td class="num">${formatBytes(f.size)}</td>
              <td>${f.action}</td>
              <td>${f.targetRecordId ? `${f.targetObject} ${f.targetRecordId}` : '—'}</td>
              <td>${f.code ? html`<code>${f.code}</code> ` : null}${f.reason ?? ''}</td>
            </tr>`,
          )}
        </tbody>
      </table>`,
  )
}

/** Atomic flows: each folder goes whole or not at all. */
function batchTable(batches: PlannedAtomicBatch[]): Html {
  return html`<p>Atomic batches: the files of a folder go together; a folder with a failing file is undone whole.</p>
    <table class="grid">
      <thead><tr><th>Folder</th><th class="num">Files</th><th class="num">Failing</th><th>Outcome</th></tr></thead>
      <tbody>
        ${batches.map(
          (b) => html`<tr>
            <td class="path">${b.folder}</td>
            <td class="num">${String(b.files)}</td>
            <td class="num">${String(b.failing)}</td>
            <td>${b.outcome}</td>
          </tr>`,
        )}
      </tbody>
    </table>`
}
