import t from 'tap'
import {
  MAX_SEGMENT_BYTES,
  sanitizeRemotePath,
  sanitizeRemoteSegment,
  truncateUtf8,
} from '../../src/domain/remote-names.js'

const bytes = (text: string) => Buffer.byteLength(text, 'utf8')

t.test('a segment cannot carry a path', async (t) => {
  t.equal(sanitizeRemoteSegment('../../etc/passwd'), '.._.._etc_passwd')
  t.equal(sanitizeRemoteSegment('..\\..\\boot.ini'), '.._.._boot.ini')
  t.equal(sanitizeRemoteSegment('a/b', '-'), 'a-b')
  t.equal(sanitizeRemoteSegment('a/b', ''), 'ab', 'an empty replacement drops the character')
  for (const dots of ['.', '..', '...', ' . ', '']) {
    t.equal(sanitizeRemoteSegment(dots), '_', `${JSON.stringify(dots)} is never a name of its own`)
  }
  t.equal(sanitizeRemoteSegment('..', ''), '_', 'never empty, even without a replacement')
  t.equal(sanitizeRemoteSegment('..', '-'), '-')
  t.equal(sanitizeRemoteSegment('..hidden'), '..hidden', 'leading dots are a plain name')
})

t.test('control characters and NUL are replaced', async (t) => {
  t.equal(sanitizeRemoteSegment('a\0b\r\nc\td\u007fe\u0085f.pdf'), 'a_b__c_d_e_f.pdf')
  t.equal(sanitizeRemoteSegment('bad\uD800half.txt'), 'bad_half.txt', 'a lone surrogate')
})

t.test('trailing dots and spaces go; the rest stays as it was', async (t) => {
  t.equal(sanitizeRemoteSegment('report. . '), 'report')
  t.equal(sanitizeRemoteSegment(' leading space.pdf'), ' leading space.pdf')
  t.equal(sanitizeRemoteSegment(`O'Brien "final" #1 100%.pdf`), `O'Brien "final" #1 100%.pdf`, 'quotes')
  t.equal(sanitizeRemoteSegment('Überweisung 契約書.pdf'), 'Überweisung 契約書.pdf', 'unicode')
  t.equal(sanitizeRemoteSegment('party 🎉👩‍👩‍👧.pdf'), 'party 🎉👩‍👩‍👧.pdf', 'emoji')
  t.equal(sanitizeRemoteSegment('Cafe\u0301.txt'), 'Caf\u00e9.txt', 'one spelling (NFC)')
})

t.test('long names are cut to 255 bytes before the extension', async (t) => {
  const long = `${'a'.repeat(296)}.pdf`
  t.equal(bytes(long), 300)
  const cut = sanitizeRemoteSegment(long)
  t.equal(bytes(cut), MAX_SEGMENT_BYTES)
  t.equal(cut, `${'a'.repeat(251)}.pdf`)

  const wide = `${'名'.repeat(100)}.pdf` // 3 bytes each
  const wideCut = sanitizeRemoteSegment(wide)
  t.ok(bytes(wideCut) <= MAX_SEGMENT_BYTES, `${bytes(wideCut)} bytes`)
  t.equal(wideCut, `${'名'.repeat(83)}.pdf`, 'cut on a character boundary')
  t.notOk(wideCut.includes('\uFFFD'))

  const family = '👩‍👩‍👧' // 18 bytes, one character on screen
  const emoji = sanitizeRemoteSegment(`${family.repeat(20)}.txt`)
  t.equal(emoji, `${family.repeat(13)}.txt`, 'an emoji sequence is never split')

  const noExtension = sanitizeRemoteSegment('b'.repeat(300))
  t.equal(noExtension, 'b'.repeat(255))
  const hugeExtension = sanitizeRemoteSegment(`x.${'e'.repeat(298)}`)
  t.equal(bytes(hugeExtension), 255, 'an extension too long to keep is cut with the rest')

  t.equal(sanitizeRemoteSegment(`${'d'.repeat(260)}....`), 'd'.repeat(255), 'trimmed after the cut too')
})

t.test('an unsafe replacement is refused', async (t) => {
  for (const bad of ['/', '\\', '\0', '.', '..', '\n', 'toolong']) {
    t.throws(() => sanitizeRemoteSegment('a/b', bad), { code: 'VALIDATION_FAILED' }, JSON.stringify(bad))
  }
})

t.test('truncateUtf8 keeps whole characters', async (t) => {
  t.equal(truncateUtf8('abc', 10), 'abc')
  t.equal(truncateUtf8('ééé', 5), 'éé')
  t.equal(truncateUtf8('🎉🎉', 7), '🎉')
  t.equal(truncateUtf8('🎉', 3), '')
})

t.test('paths are sanitised segment by segment', async (t) => {
  t.equal(sanitizeRemotePath('/out/../../etc/passwd'), '/out/_/_/etc/passwd', '.. cannot climb')
  t.equal(sanitizeRemotePath('/out/./a//b/'), '/out/a/b', 'empty and . segments collapse')
  t.equal(sanitizeRemotePath('/out/ACME\\Corp/x\ty.pdf', '-'), '/out/ACME-Corp/x-y.pdf')
  t.equal(sanitizeRemotePath('/out/Müller GmbH/契約.pdf'), '/out/Müller GmbH/契約.pdf')
  t.equal(sanitizeRemotePath('/'), '/')
  t.equal(sanitizeRemotePath('/a. /b'), '/a/b')
  const deep = sanitizeRemotePath(`/in/${'x'.repeat(300)}/f.txt`)
  t.equal(deep, `/in/${'x'.repeat(255)}/f.txt`)
  t.throws(() => sanitizeRemotePath('relative/path'), { code: 'VALIDATION_FAILED' })
})
