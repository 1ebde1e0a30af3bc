import t from 'tap'
import {
  assertSafeEntryName,
  collisionSafeName,
  joinRemote,
  relativeTo,
  sdriveFileName,
  unreadableNameReason,
  withoutControlCharacters,
} from '../../src/domain/file-names.js'

t.test('names from a server must be one segment', async (t) => {
  for (const bad of ['', '.', '..', '../etc/passwd', 'a/b', 'x\0y']) {
    t.throws(() => assertSafeEntryName(bad), { code: 'INVALID_FILE_NAME' }, JSON.stringify(bad))
  }
  for (const ok of ["O'Brien contract.pdf", 'Überweisung 2024.pdf', '契約書.pdf', '..hidden', 'a..b']) {
    t.doesNotThrow(() => assertSafeEntryName(ok), ok)
  }
  t.throws(() => joinRemote('/in', '../x'), { code: 'INVALID_FILE_NAME' })
  t.equal(joinRemote('/in', "O'Brien.pdf"), "/in/O'Brien.pdf")
})

t.test('S-Drive names lose the characters S-Drive refuses', async (t) => {
  t.equal(sdriveFileName('a:b*c?"d"<e>|f~g\\h.pdf'), 'a_b_c__d__e__f_g_h.pdf')
  t.equal(sdriveFileName("O'Brien contract.pdf"), "O'Brien contract.pdf")
  t.equal(sdriveFileName('契約書.pdf'), '契約書.pdf')
  t.equal(sdriveFileName('tab\there.pdf'), 'tabhere.pdf')
  t.throws(() => sdriveFileName(' .. '), { code: 'INVALID_FILE_NAME' })
})

t.test('collision-safe names never overwrite', async (t) => {
  t.equal(collisionSafeName('a.pdf', new Set(), 'run1'), 'a.pdf')
  t.equal(collisionSafeName('a.pdf', new Set(['a.pdf']), 'run1'), 'a (run1).pdf')
  t.equal(collisionSafeName('a.pdf', new Set(['a.pdf', 'a (run1).pdf']), 'run1'), 'a (run1 2).pdf')
  t.equal(collisionSafeName('README', new Set(['README']), 'r'), 'README (r)')
})

t.test('relativeTo stays inside the root', async (t) => {
  t.equal(relativeTo('/in', '/in/a/b'), 'a/b')
  t.equal(relativeTo('/in', '/in'), null)
  t.equal(relativeTo('/in', '/other'), null)
  t.equal(relativeTo('/in', '/in/../x'), null)
})

t.test('unreadableNameReason: names that cannot be read back by their listed name', async (t) => {
  t.equal(unreadableNameReason('ACME-001_a\\b.pdf'), null, 'a backslash is a plain character')
  t.equal(unreadableNameReason('über 2024.pdf'), null)
  t.match(unreadableNameReason('a\nb.pdf'), /line break/)
  t.match(unreadableNameReason('a\rb.pdf'), /line break/)
  t.match(unreadableNameReason(Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('utf8')), /not valid UTF-8/)
})

t.test('Salesforce metadata loses C0 and C1 control characters and DEL', async (t) => {
  t.equal(withoutControlCharacters('a\u0001b\u001b[31mc\u007fd\u0085e\u009ff\u0000.pdf'), 'ab[31mcdef.pdf')
  t.equal(withoutControlCharacters("Überweisung 契約書 O'Brien.pdf"), "Überweisung 契約書 O'Brien.pdf")
  t.equal(sdriveFileName('x\u0085y\u009b.pdf'), 'xy.pdf', 'the S-Drive name too (C1 as well as C0)')
})
