/**
 * Run as a child process by test/unit/status-file-budget.test.ts: builds one
 * status file, parses it, and prints how far the parse raised the process's
 * peak resident memory (maxRSS) above what it was with the input built, in
 * bytes, with the input's size and the outcome. A fresh process per figure,
 * so no earlier allocation hides or inflates it. Not a test file.
 */
import type { StatusFormat } from '../../src/config/schema.js'
import { parseStatusFile } from '../../src/domain/status-file.js'

const [shape = '', countText = '0'] = process.argv.slice(2)
const n = Number(countText)

const inputs: Record<string, () => { text: string; type: StatusFormat['type'] }> = {
  csv: () => ({
    type: 'csv',
    text: `Id,Status__c,Amount__c\n${Array.from({ length: n }, (_, i) => `A${i},Shipped,${i}.50\n`).join('')}`,
  }),
  json: () => ({
    type: 'json',
    text: JSON.stringify(
      Array.from({ length: n }, (_, i) => ({ Id: `A${i}`, Status__c: 'Shipped', Amount__c: i })),
    ),
  }),
  xml: () => ({
    type: 'xml',
    text: `<r>${Array.from({ length: n }, (_, i) => `<s Id="A${i}"><Status__c>Shipped</Status__c></s>`).join('')}</r>`,
  }),
  'deep-json': () => ({ type: 'json', text: `${'['.repeat(n)}${']'.repeat(n)}` }),
  'deep-xml': () => ({ type: 'xml', text: `${'<a>'.repeat(n)}${'</a>'.repeat(n)}` }),
  'unclosed-quote': () => ({ type: 'csv', text: `Id,Note__c\nA1,"${'x'.repeat(n)}\n` }),
}

const build = inputs[shape]
if (build === undefined) throw new Error(`unknown shape ${shape}`)
const { text, type } = build()
const bytes = new TextEncoder().encode(text)
const format: StatusFormat = { type, encoding: 'utf8', delimiter: ',', recordsPath: '', maxBytes: 52_428_800 }
const before = process.resourceUsage().maxRSS
let outcome: string
try {
  const result = parseStatusFile(bytes, format)
  outcome = result.ok ? `${result.rows.length} rows` : result.code
} catch (error) {
  outcome = `threw ${(error as Error).message}`
}
const peakGrowth = (process.resourceUsage().maxRSS - before) * 1024
process.stdout.write(`${JSON.stringify({ inputBytes: bytes.length, peakGrowth, outcome })}\n`)
