/**
 * Before a cut transfer resumes, the file's mtime is compared with the listed one at the
 * listing's precision (src/transfer/resumable-read.ts): an FTP LIST line gives minutes, or days
 * for old files, where MDTM and SFTP give seconds.
 */
import t from 'tap'
import { sameListedTime } from '../../src/transfer/resumable-read.js'

const at = (iso: string) => Date.parse(iso)

t.test('seconds from both sides: equal within the second, not across it', async (t) => {
  t.ok(sameListedTime(at('2026-12-03T10:15:07.000Z'), at('2026-12-03T10:15:07.900Z')))
  t.notOk(sameListedTime(at('2026-12-03T10:15:07.000Z'), at('2026-12-03T10:15:08.000Z')))
})

t.test(
  'a listing in minutes (FTP LIST) matches any second of that minute, and only that minute',
  async (t) => {
    t.ok(sameListedTime(at('2026-12-03T10:15:00.000Z'), at('2026-12-03T10:15:42.000Z')))
    t.notOk(sameListedTime(at('2026-12-03T10:15:00.000Z'), at('2026-12-03T10:16:01.000Z')))
  },
)

t.test('a listing in days (an old file on FTP) matches that day only', async (t) => {
  t.ok(sameListedTime(at('2026-03-01T00:00:00.000Z'), at('2026-03-01T17:45:12.000Z')))
  t.notOk(sameListedTime(at('2026-03-01T00:00:00.000Z'), at('2026-03-02T00:00:01.000Z')))
})
