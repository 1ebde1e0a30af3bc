/**
 * Resumable transfers over FTP (test/support/resume-cases.ts): a 200 MiB
 * file with every connection cut after 20 MiB arrives whole in both
 * directions with at most 1.15 × its size moved; a file changed during a cut
 * is read again from zero.
 */
import t from 'tap'
import { changedDuringCutCase, cutEvery20MiBCase } from '../support/resume-cases.js'

t.setTimeout(150_000)

t.test('ftp: 200 MiB in and out, every connection cut after 20 MiB', async (t) => cutEvery20MiBCase(t, 'ftp'))

t.test('ftp: a file changed during the cut is read again from zero', async (t) =>
  changedDuringCutCase(t, 'ftp'),
)
