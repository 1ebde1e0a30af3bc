import { parseList } from 'basic-ftp'
import t from 'tap'
import { parseListKeepingLineBreaks } from '../../src/adapters/remote/list-lines.js'

const unixLine = (name: string) => `-rw-r--r--    1 1000     1000            5 Jan 02 03:04 ${name}`

t.test('a LIST line keeps a line break inside a name whole', async (t) => {
  const raw = [unixLine('plain.pdf'), unixLine('a\nb.pdf'), unixLine('c\rd.pdf'), ''].join('\r\n')
  const names = parseListKeepingLineBreaks(raw, parseList).map((f) => f.name)
  t.same(names, ['plain.pdf', 'a\nb.pdf', 'c\rd.pdf'])
  t.not(
    parseList(raw)
      .map((f) => f.name)
      .includes('a\nb.pdf'),
    'basic-ftp alone cuts the name',
  )
})

t.test('an MLSD line keeps it too', async (t) => {
  const raw = ['type=file;size=5;modify=20240102030405; a\nb.pdf', 'type=file;size=1; x.pdf', ''].join('\r\n')
  t.same(
    parseListKeepingLineBreaks(raw, parseList).map((f) => f.name),
    ['a\nb.pdf', 'x.pdf'],
  )
})

t.test('a listing with bare LF line ends is parsed as before', async (t) => {
  const raw = [unixLine('one.pdf'), unixLine('two.pdf'), ''].join('\n')
  t.same(
    parseListKeepingLineBreaks(raw, parseList).map((f) => f.name),
    ['one.pdf', 'two.pdf'],
  )
})
