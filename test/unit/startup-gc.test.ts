import t from 'tap'
import { collectStartupGarbage } from '../../src/startup-gc.js'

t.test('collects the start-up garbage and leaves no global gc behind', async (t) => {
  // Garbage the collection must free: 64 MiB of short-lived strings held only until this block ends.
  {
    const junk: string[] = []
    for (let i = 0; i < 64; i++) junk.push('x'.repeat(1024 * 1024) + i)
    t.equal(junk.length, 64)
  }
  const before = process.memoryUsage().heapUsed
  collectStartupGarbage()
  const after = process.memoryUsage().heapUsed
  t.ok(
    after < before,
    `heap in use fell from ${(before / 2 ** 20).toFixed(1)} to ${(after / 2 ** 20).toFixed(1)} MiB`,
  )
  t.equal((globalThis as { gc?: unknown }).gc, undefined, 'no gc function on the global object')
})
