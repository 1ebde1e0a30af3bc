/**
 * CSV lines (RFC 4180, CRLF) for files people open in spreadsheets: a cell
 * that a spreadsheet would run as a formula gets a leading quote (OWASP CSV
 * injection). Shared by manifests and status-file error reports.
 */

/** What Excel, LibreOffice and Google Sheets treat as the start of a formula. */
const FORMULA_START = /^[=+\-@\t\r]/

function csvCell(value: string): string {
  const defused = FORMULA_START.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(defused) ? `"${defused.replaceAll('"', '""')}"` : defused
}

export function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`
}
