/**
 * Child-process helper for the parser's memory budget test: reads an
 * envelope on stdin, parses it once and prints one JSON line with the outcome
 * (`parsed` or the error code) and the peak RSS growth over the process's RSS
 * before the parse. Run with a capped heap, an unbounded parse dies here.
 */
import { parseOutboundMessage } from '../../src/domain/outbound-message.js'

const chunks: Buffer[] = []
for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
const xml = Buffer.concat(chunks).toString('utf8')
const rssBefore = process.memoryUsage().rss
let outcome = 'parsed'
try {
  parseOutboundMessage(xml)
} catch (error) {
  outcome = (error as { code?: string }).code ?? 'THROWN'
}
// maxRSS is the process's peak resident set, in KiB.
const peakGrowthMb = (process.resourceUsage().maxRSS * 1024 - rssBefore) / 1048576
process.stdout.write(`${JSON.stringify({ outcome, peakGrowthMb })}\n`)
