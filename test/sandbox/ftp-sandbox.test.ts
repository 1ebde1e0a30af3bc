/**
 * The sandbox FTP server keeps clients inside its root, as the SFTP sandbox
 * does (issue 18, defect 11: a link to /etc/passwd in an FTP inbox was
 * served and uploaded to S-Drive). Over a real socket: raw FTP commands
 * with basic-ftp, and the bridge's own FTP adapter.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { Client, FTPError } from 'basic-ftp'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import { startFtpServer } from '../../src/sandbox/ftp-server.js'
import { collect, endpointConfig, failureCode } from '../support/remote-files-contract.js'

async function tempDir(t: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A served root with links out of it and within it, and the file outside they point at. */
async function linkedRoot(t: Test) {
  const root = await tempDir(t, 'ftp-sandbox-root-')
  const outside = await tempDir(t, 'ftp-sandbox-outside-')
  const secret = join(outside, 'secret.txt')
  await writeFile(secret, 'not for partners')
  await mkdir(join(root, 'in'))
  await mkdir(join(root, 'data'))
  await writeFile(join(root, 'data', 'real.txt'), 'inside the root')
  await symlink(secret, join(root, 'in', 'leak.txt'))
  await symlink(outside, join(root, 'escape'))
  await symlink(join(root, 'data', 'real.txt'), join(root, 'in', 'inside.txt'))
  const server = await startFtpServer({ root, username: 'bob', password: 'pw' })
  t.teardown(server.close)
  return { root, outside, secret, server }
}

/** The reply code an FTP command failed with. */
async function replyCode(work: Promise<unknown>): Promise<number | string> {
  try {
    await work
  } catch (error) {
    return error instanceof FTPError ? error.code : `not an FTPError: ${String(error)}`
  }
  return 'succeeded'
}

const sink = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback()
    },
  })

t.test('raw FTP: a link out of the root is refused, one within it works', async (t) => {
  const { outside, secret, server } = await linkedRoot(t)
  const client = new Client(10_000)
  t.teardown(() => client.close())
  await client.access({ host: server.host, port: server.port, user: 'bob', password: 'pw' })

  t.equal(await replyCode(client.downloadTo(sink(), '/in/leak.txt')), 551, 'RETR of a link to a file outside')
  t.equal(await replyCode(client.downloadTo(sink(), '/escape/secret.txt')), 551, 'RETR through a dir link')
  t.equal(await replyCode(client.size('/in/leak.txt')), 550, 'SIZE')
  t.equal(await replyCode(client.lastMod('/in/leak.txt')), 550, 'MDTM')
  t.equal(
    await replyCode(client.list('/escape')),
    451,
    'LIST of a dir link out (ftp-srv answers a failed LIST with 451)',
  )
  t.equal(await replyCode(client.cd('/escape')), 550, 'CWD into a dir link out')
  t.equal(await replyCode(client.uploadFrom(Readable.from(['overwritten']), '/in/leak.txt')), 550, 'STOR')
  t.equal(await replyCode(client.remove('/in/leak.txt')), 550, 'DELE')
  t.equal(await replyCode(client.rename('/in/leak.txt', '/in/moved.txt')), 550, 'RNFR')
  t.equal(
    await replyCode(client.send('MKD /escape/new/deeper')),
    550,
    'MKD of new directories below a link out',
  )
  t.equal(
    await replyCode(client.uploadFrom(Readable.from(['planted']), '/escape/new/planted.txt')),
    550,
    'STOR of a new name below a link out',
  )
  t.same(await readdir(outside), ['secret.txt'], 'nothing was created outside')
  t.equal(await readFile(secret, 'utf8'), 'not for partners', 'the file outside is untouched')

  const listing = await client.list('/in')
  const byName = new Map(listing.map((entry) => [entry.name, entry]))
  t.same([...byName.keys()].sort(), ['inside.txt', 'leak.txt'], 'links are listed under their own names')
  t.ok(byName.get('leak.txt')?.isSymbolicLink, 'as links, not as the files they point at')
  t.equal(byName.get('leak.txt')?.link, secret, 'with their target, as ls -l shows it')

  const chunks: Buffer[] = []
  await client.downloadTo(
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk)
        callback()
      },
    }),
    '/in/inside.txt',
  )
  t.equal(Buffer.concat(chunks).toString(), 'inside the root', 'a link that stays inside is followed')
})

t.test(
  "the bridge's FTP adapter: links are 'other' entries, a link out reads as permission denied",
  async (t) => {
    const { secret, server } = await linkedRoot(t)
    const remote = createRemoteFiles(
      endpointConfig({
        protocol: 'ftp',
        host: server.host,
        port: server.port,
        username: 'bob',
        password: 'pw',
      }),
      pino({ level: 'silent' }),
    )
    t.teardown(() => remote.close())
    const entries = await remote.list('/in')
    t.same(entries.map((entry) => [entry.name, entry.type]).sort(), [
      ['inside.txt', 'other'],
      ['leak.txt', 'other'],
    ])
    t.equal(await failureCode(remote.read('/in/leak.txt', collect)), 'REMOTE_PERMISSION_DENIED')
    t.equal(await failureCode(remote.read('/escape/secret.txt', collect)), 'REMOTE_PERMISSION_DENIED')
    // The adapter lists by CWD + LIST and reads any refused CWD as "no such directory".
    t.equal(await failureCode(remote.list('/escape')), 'REMOTE_NOT_FOUND')
    t.equal(await failureCode(remote.delete('/in/leak.txt')), 'REMOTE_PERMISSION_DENIED')
    t.equal((await remote.read('/in/inside.txt', collect)).toString(), 'inside the root')
    t.same(
      (await remote.list('/../../..')).map((entry) => entry.name).sort(),
      ['data', 'escape', 'in'],
      '.. stops at the root',
    )
    t.equal(await readFile(secret, 'utf8'), 'not for partners')
  },
)

/** A raw control connection that sends exactly the bytes it is given and reads reply lines. */
async function rawControl(t: Test, port: number) {
  const socket = connect({ host: '127.0.0.1', port })
  t.teardown(() => socket.destroy())
  const lines: string[] = []
  const waiters: Array<() => void> = []
  let buffered = ''
  socket.setEncoding('utf8')
  socket.on('data', (text: string) => {
    buffered += text
    for (let end = buffered.indexOf('\r\n'); end !== -1; end = buffered.indexOf('\r\n')) {
      lines.push(buffered.slice(0, end))
      buffered = buffered.slice(end + 2)
    }
    for (const wake of waiters.splice(0)) wake()
  })
  /** Resolves with the first reply line starting with `code` not yet taken. */
  async function reply(code: string): Promise<string> {
    for (;;) {
      const at = lines.findIndex((line) => line.startsWith(`${code} `))
      if (at !== -1) return lines.splice(0, at + 1).at(-1) as string
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  const write = (bytes: string) =>
    new Promise<void>((resolve, reject) => socket.write(bytes, (e) => (e ? reject(e) : resolve())))
  await reply('220')
  return { write, reply }
}

t.test('a command line is run only once its CRLF has arrived, however the bytes are split', async (t) => {
  const root = await tempDir(t, 'ftp-sandbox-lines-')
  await writeFile(join(root, 'doc.pdf'), 'partner bytes')
  const server = await startFtpServer({ root, username: 'bob', password: 'pw' })
  t.teardown(server.close)
  const control = await rawControl(t, server.port)
  await control.write('USER bob\r\n')
  await control.reply('331')
  await control.write('PASS pw\r')
  await control.write('\n')
  await control.reply('230')
  await control.write('RNFR /doc.p')
  await control.write('df\r\n')
  await control.reply('350')
  // A fragment cut off here would have renamed the file to "/done.p" (what a connection cut does).
  await control.write('RNTO /done.p')
  await control.write('df\r\nNOOP\r\n')
  await control.reply('250')
  await control.reply('200')
  t.same((await readdir(root)).sort(), ['done.pdf'])
  t.equal(await readFile(join(root, 'done.pdf'), 'utf8'), 'partner bytes')
})
