/**
 * The test fault proxy itself, over real sockets: faithful forwarding, cut
 * and reset after N bytes in either direction, stall until released or for
 * a while, rules limited to some connections, and FTP passive data
 * connections rewritten through the proxy (with the session's bytes counted
 * together) — checked with the bridge's own SFTP and FTP adapters.
 */
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import pino from 'pino'
import t, { type Test } from 'tap'
import { createRemoteFiles } from '../../src/adapters/remote/index.js'
import type { RemoteFiles } from '../../src/ports/remote-files.js'
import { type FaultProxy, type FaultRule, startFaultProxy } from '../support/fault-proxy.js'
import { REMOTE_PASSWORD, startRemoteServer } from '../support/harness.js'
import { collect, endpointConfig, failureCode } from '../support/remote-files-contract.js'

const KiB = 1024

/** Resolves when the socket closed, however (an error on the way is expected here). */
function closed(socket: Socket): Promise<void> {
  socket.on('error', () => undefined)
  return new Promise((resolve) => socket.once('close', () => resolve()))
}

/** A server that sends `greeting` bytes on connect and counts what it receives per connection. */
async function startTarget(t: Test, greeting: Buffer) {
  const received: Buffer[][] = []
  const closedAt: Promise<void>[] = []
  const sockets: Socket[] = []
  const server: Server = createServer((socket) => {
    const chunks: Buffer[] = []
    received.push(chunks)
    sockets.push(socket)
    closedAt.push(closed(socket))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('end', () => socket.end())
    socket.write(greeting)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return {
    port: (server.address() as AddressInfo).port,
    received: (i: number) => Buffer.concat(received[i] ?? []),
    closed: (i: number) => closedAt[i],
    connections: () => received.length,
  }
}

async function proxyTo(t: Test, port: number, rule: FaultRule | null = null): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, rule })
  t.teardown(() => proxy.close())
  return proxy
}

/** A client that sends `payload`, half-closes, and collects what it gets until the socket closes. */
async function exchange(port: number, payload: Buffer) {
  const socket = connect({ host: '127.0.0.1', port })
  const chunks: Buffer[] = []
  let error: NodeJS.ErrnoException | undefined
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.on('error', (e) => {
    error = e
  })
  const done = closed(socket)
  await once(socket, 'connect')
  socket.end(payload)
  await done
  return { got: Buffer.concat(chunks), error }
}

t.test('forwards both ways unchanged and counts', async (t) => {
  const greeting = Buffer.alloc(300 * KiB, 7)
  const target = await startTarget(t, greeting)
  const proxy = await proxyTo(t, target.port)
  const payload = Buffer.alloc(200 * KiB, 9)
  const { got, error } = await exchange(proxy.port, payload)
  t.equal(error, undefined)
  t.same(got, greeting, 'the client got every byte the target sent')
  t.same(target.received(0), payload, 'the target got every byte the client sent')
  t.match(proxy.stats(), {
    connections: 1,
    cuts: 0,
    resets: 0,
    bytesToTarget: payload.length,
    bytesToClient: greeting.length,
  })
})

t.test('cut after N bytes towards the client: exactly N arrive, both sides closed', async (t) => {
  const target = await startTarget(t, Buffer.alloc(500 * KiB, 1))
  const proxy = await proxyTo(t, target.port, { action: 'cut', afterBytes: 100 * KiB, direction: 'toClient' })
  const cut = once(proxy.events, 'cut')
  const socket = connect({ host: '127.0.0.1', port: proxy.port })
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  await closed(socket)
  t.equal(Buffer.concat(chunks).length, 100 * KiB, 'the client got exactly the budget')
  await target.closed(0)
  t.pass('the target side was closed too')
  const [, counted] = await cut
  t.equal(counted, 100 * KiB)
  t.match(proxy.stats(), { cuts: 1, live: 0 })
})

t.test('cut after N bytes towards the target', async (t) => {
  const target = await startTarget(t, Buffer.from('hello'))
  const proxy = await proxyTo(t, target.port, { action: 'cut', afterBytes: 64 * KiB, direction: 'toTarget' })
  await exchange(proxy.port, Buffer.alloc(256 * KiB, 2))
  await target.closed(0)
  t.equal(target.received(0).length, 64 * KiB)
  t.equal(proxy.stats().cuts, 1)
})

t.test('both directions count together by default', async (t) => {
  const target = await startTarget(t, Buffer.alloc(40 * KiB, 1))
  const proxy = await proxyTo(t, target.port, { action: 'cut', afterBytes: 50 * KiB })
  const { got } = await exchange(proxy.port, Buffer.alloc(40 * KiB, 2))
  await target.closed(0)
  t.equal(got.length + target.received(0).length, 50 * KiB, '50 KiB in all got through')
})

t.test('reset after N bytes: an RST instead of a close', async (t) => {
  const target = await startTarget(t, Buffer.from('hi'))
  const proxy = await proxyTo(t, target.port, { action: 'reset', afterBytes: 4 * KiB, direction: 'toTarget' })
  const socket = connect({ host: '127.0.0.1', port: proxy.port })
  const failed = once(socket, 'error') as Promise<[NodeJS.ErrnoException]>
  // With nothing left unread the RST surfaces as an error (data and an RST arriving
  // together may read as an ordinary end instead: that is how the kernel reports it).
  await once(socket, 'data')
  socket.write(Buffer.alloc(64 * KiB, 2))
  const [error] = await failed
  t.ok(['ECONNRESET', 'EPIPE'].includes(error.code ?? ''), `the client got ${error.code}`)
  await target.closed(0)
  t.equal(target.received(0).length, 4 * KiB, 'the budget reached the target, then the connection went')
  t.match(proxy.stats(), { resets: 1, cuts: 0 })
})

t.test('stall until released: nothing moves, then everything held back arrives', async (t) => {
  const greeting = Buffer.alloc(256 * KiB, 5)
  const target = await startTarget(t, greeting)
  const proxy = await proxyTo(t, target.port, {
    action: 'stall',
    afterBytes: 32 * KiB,
    direction: 'toClient',
    times: 1,
  })
  const socket = connect({ host: '127.0.0.1', port: proxy.port })
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  await once(proxy.events, 'stall')
  socket.write('during the stall')
  // A whole exchange over another connection of the proxy while the first one holds.
  const other = await exchange(proxy.port, Buffer.from('x'))
  t.equal(other.got.length, greeting.length, "a connection past the rule's times is not stalled")
  t.equal(Buffer.concat(chunks).length, 32 * KiB, 'only the budget arrived')
  t.equal(target.received(0).length, 0, 'nothing reached the target during the stall')
  t.equal(proxy.stats().stalls, 1)
  const done = closed(socket)
  proxy.release()
  socket.end()
  await done
  t.same(Buffer.concat(chunks), greeting, 'the rest arrived once released')
  t.equal(target.received(0).toString(), 'during the stall')
})

t.test('stall for a while resumes by itself; times limits the rule to the next connections', async (t) => {
  const target = await startTarget(t, Buffer.alloc(16 * KiB, 5))
  const proxy = await proxyTo(t, target.port, { action: 'stall', stallMs: 50, times: 1 })
  const stalled = await exchange(proxy.port, Buffer.from('a'))
  t.equal(stalled.got.length, 16 * KiB, 'the first connection went through after its stall')
  const next = await exchange(proxy.port, Buffer.from('b'))
  t.equal(next.got.length, 16 * KiB)
  t.match(proxy.stats(), { connections: 2, stalls: 1 })
  proxy.setRule({ action: 'cut', times: 1 })
  t.equal((await exchange(proxy.port, Buffer.from('c'))).got.length, 0, 'cut at the first byte')
  t.equal((await exchange(proxy.port, Buffer.from('d'))).got.length, 16 * KiB, 'only once')
  t.equal(proxy.stats().cuts, 1)
})

t.test('cutAll and resetAll end the open connections now', async (t) => {
  const target = await startTarget(t, Buffer.alloc(1, 1))
  const proxy = await proxyTo(t, target.port)
  const a = connect({ host: '127.0.0.1', port: proxy.port })
  const aClosed = closed(a)
  await once(a, 'data')
  proxy.cutAll()
  await aClosed
  const b = connect({ host: '127.0.0.1', port: proxy.port })
  await once(b, 'data')
  proxy.resetAll()
  const [error] = (await once(b, 'error')) as [NodeJS.ErrnoException]
  t.equal(error.code, 'ECONNRESET')
  t.match(proxy.stats(), { cuts: 1, resets: 1 })
})

async function remoteThrough(t: Test, protocol: 'sftp' | 'ftp', rule: FaultRule | null) {
  const root = await mkdtemp(join(tmpdir(), 'fault-proxy-'))
  const server = await startRemoteServer(protocol, root)
  const proxy = await startFaultProxy({
    target: { host: '127.0.0.1', port: server.port },
    protocol: protocol === 'ftp' ? 'ftp' : 'tcp',
    rule,
  })
  const remotes: RemoteFiles[] = []
  t.teardown(async () => {
    for (const r of remotes) await r.close()
    await proxy.close()
    await server.close()
    await rm(root, { recursive: true, force: true })
  })
  const remote = () => {
    const r = createRemoteFiles(
      endpointConfig({
        protocol,
        host: '127.0.0.1',
        port: proxy.port,
        username: 'partner',
        password: REMOTE_PASSWORD,
        maxConnections: 1,
        ...(server.hostKeySha256 ? { hostKeySha256: server.hostKeySha256 } : {}),
      }),
      pino({ level: 'silent' }),
    )
    remotes.push(r)
    return r
  }
  return { root, proxy, remote }
}

for (const protocol of ['sftp', 'ftp'] as const) {
  t.test(
    `${protocol} through the proxy: transfers pass, a cut session fails, the next one works`,
    async (t) => {
      const { root, proxy, remote } = await remoteThrough(t, protocol, null)
      const big = Buffer.alloc(600 * KiB, 3)
      await writeFile(join(root, 'big.bin'), big)
      const files = remote()
      t.same(
        (await files.list('/')).map((e) => e.name),
        ['big.bin'],
      )
      t.same(await files.read('/big.bin', collect), big)
      await files.write('/up.bin', Readable.from([big]))
      t.equal((await files.stat('/up.bin'))?.size, big.length)
      if (protocol === 'ftp')
        t.ok(proxy.stats().dataConnections >= 3, 'listing and transfers went through the proxy')
      const { bytesToClient, bytesToTarget } = proxy.stats()
      t.ok(bytesToClient > big.length && bytesToTarget > big.length, 'the file bytes went through the proxy')

      // One session gets 256 KiB in all (control and data together for FTP): reading 600 KiB is cut.
      proxy.setRule({ action: 'cut', afterBytes: 256 * KiB, times: 1 })
      const fresh = remote()
      t.equal(await failureCode(fresh.read('/big.bin', collect)), 'CONNECTION_LOST')
      t.equal(proxy.stats().cuts, 1)
      t.same(await fresh.read('/big.bin', collect), big, 'a new connection is not cut')
    },
  )
}
