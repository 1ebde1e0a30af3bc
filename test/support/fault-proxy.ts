/**
 * A TCP fault proxy for tests: listens on 127.0.0.1 (an ephemeral port) in
 * front of one target and forwards bytes both ways unchanged, until its rule
 * says otherwise:
 *
 * - `cut`: after N bytes both sides are destroyed (the N+1st byte never arrives);
 * - `reset`: the same, but both sides get an RST (`socket.resetAndDestroy()`);
 * - `stall`: after N bytes nothing is forwarded, in either direction, for
 *   `stallMs` or until `release()`; the sockets stay open.
 *
 * A rule is taken by each connection when it is accepted and counts that
 * connection's own bytes (`direction`: both ways, or one), so "cut every
 * connection after 1 MiB" is `{ action: 'cut', afterBytes: MiB }`.
 *
 * `protocol: 'ftp'` makes FTP's data connections go through the proxy too:
 * the server's 227 (PASV) and 229 (EPSV) replies on the control connection
 * are rewritten to a port of the proxy, which forwards the one data
 * connection made to it to the port the server announced (on the target
 * host). The control connection and its data connections form one session,
 * the unit the rule applies to: its byte count is their sum, and a cut or
 * reset ends all of them, as a dropped link would. Plain FTP only: after
 * AUTH TLS the control channel cannot be read, so FTPS data connections
 * would bypass the proxy.
 */
import { EventEmitter, once } from 'node:events'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'

export type FaultAction = 'cut' | 'reset' | 'stall'

export interface FaultRule {
  action: FaultAction
  /** Bytes forwarded (counted in `direction`) before the action; 0 = at the first byte. Default 0. */
  afterBytes?: number
  /** Which bytes count: both directions (default), client → target, or target → client. */
  direction?: 'both' | 'toTarget' | 'toClient'
  /** For `stall`: forward again after this long; default until `release()`. */
  stallMs?: number
  /** How many connections (ftp: sessions) accepted from now on get the rule; default all of them. */
  times?: number
}

export interface FaultProxyOptions {
  target: { host: string; port: number }
  /** `ftp`: rewrite PASV/EPSV replies so that data connections are proxied as well. Default `tcp`. */
  protocol?: 'tcp' | 'ftp'
  rule?: FaultRule | null
}

export interface FaultProxyStats {
  /** Connections accepted on the proxy port (ftp: control connections, i.e. sessions). */
  connections: number
  /** FTP data connections accepted on rewritten passive ports. */
  dataConnections: number
  /** Client connections open now (control and data). */
  live: number
  cuts: number
  resets: number
  stalls: number
  bytesToTarget: number
  bytesToClient: number
}

export interface FaultProxy {
  readonly host: string
  readonly port: number
  /** Emits 'connection' (session id), 'cut', 'reset' and 'stall' (session id, bytes counted then). */
  readonly events: EventEmitter
  /** The rule for connections (sessions) accepted from now on; null forwards faithfully. */
  setRule(rule: FaultRule | null): void
  /** Every stalled session forwards again (what it held back first). */
  release(): void
  /** Cuts every open session now. */
  cutAll(): void
  /** Resets every open session now. */
  resetAll(): void
  stats(): FaultProxyStats
  /** Stops listening and destroys every open connection. Idempotent. */
  close(): Promise<void>
}

type Direction = 'toTarget' | 'toClient'

/** One direction of one link: reads `from`, writes `to`, holds chunks back while the session stalls. */
interface Pump {
  from: Socket
  to: Socket
  direction: Direction
  held: Buffer[]
  ended: boolean
  waitingForDrain: boolean
}

interface Session {
  id: number
  rule: FaultRule | null
  counted: number
  fired: boolean
  dead: boolean
  stalled: boolean
  stallTimer: NodeJS.Timeout | undefined
  sockets: Set<Socket>
  pumps: Pump[]
  dataListeners: Set<Server>
}

const PASV = /^227 (.*?)\(?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)?(.*)$/
const EPSV = /^229 (.*)\(\|\|\|(\d+)\|\)(.*)$/
/** A rewritten passive port nobody connects to is closed after this long. */
const DATA_LISTENER_IDLE_MS = 30_000

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { target } = options
  const host = '127.0.0.1'
  const events = new EventEmitter()
  const sessions = new Set<Session>()
  let rule: FaultRule | null = options.rule ?? null
  let ruleUses = 0
  let nextId = 1
  const stats: FaultProxyStats = {
    connections: 0,
    dataConnections: 0,
    live: 0,
    cuts: 0,
    resets: 0,
    stalls: 0,
    bytesToTarget: 0,
    bytesToClient: 0,
  }

  function takeRule(): FaultRule | null {
    if (!rule) return null
    if (rule.times !== undefined && ruleUses >= rule.times) return null
    ruleUses++
    return rule
  }

  function kill(session: Session, action: 'cut' | 'reset'): void {
    session.dead = true
    clearTimeout(session.stallTimer)
    for (const listener of session.dataListeners) listener.close()
    session.dataListeners.clear()
    for (const socket of session.sockets) {
      if (action === 'reset' && !socket.destroyed) socket.resetAndDestroy()
      else socket.destroy()
    }
  }

  function fire(session: Session, action: FaultAction): void {
    session.fired = true
    if (action === 'stall') {
      stats.stalls++
      stall(session)
      events.emit('stall', session.id, session.counted)
      return
    }
    if (action === 'cut') stats.cuts++
    else stats.resets++
    kill(session, action)
    events.emit(action, session.id, session.counted)
  }

  function stall(session: Session): void {
    session.stalled = true
    for (const pump of session.pumps) pump.from.pause()
    const ms = session.rule?.stallMs
    if (ms !== undefined) {
      session.stallTimer = setTimeout(() => unstall(session), ms)
      session.stallTimer.unref()
    }
  }

  function unstall(session: Session): void {
    if (!session.stalled || session.dead) return
    session.stalled = false
    clearTimeout(session.stallTimer)
    for (const pump of session.pumps) {
      for (const chunk of pump.held.splice(0)) write(session, pump, chunk)
      if (pump.ended && !pump.to.destroyed) pump.to.end()
      if (!pump.waitingForDrain) pump.from.resume()
    }
  }

  function counts(session: Session, direction: Direction): boolean {
    const r = session.rule
    if (!r || session.fired) return false
    return (r.direction ?? 'both') === 'both' || r.direction === direction
  }

  function write(session: Session, pump: Pump, chunk: Buffer): void {
    if (chunk.length === 0 || pump.to.destroyed) return
    if (pump.direction === 'toTarget') stats.bytesToTarget += chunk.length
    else stats.bytesToClient += chunk.length
    if (!pump.to.write(chunk) && !pump.waitingForDrain) {
      pump.waitingForDrain = true
      pump.from.pause()
      pump.to.once('drain', () => {
        pump.waitingForDrain = false
        if (!session.stalled && !session.dead) pump.from.resume()
      })
    }
  }

  /** Forwards a chunk, or the part of it the rule lets through before it fires. */
  function forward(session: Session, pump: Pump, chunk: Buffer): void {
    if (session.dead) return
    if (session.stalled) {
      pump.held.push(chunk)
      return
    }
    if (counts(session, pump.direction)) {
      const room = (session.rule?.afterBytes ?? 0) - session.counted
      if (chunk.length > room) {
        const head = chunk.subarray(0, Math.max(0, room))
        session.counted += head.length
        const action = (session.rule as FaultRule).action
        if (action === 'stall') {
          write(session, pump, head)
          fire(session, 'stall')
          pump.held.push(chunk.subarray(head.length))
          return
        }
        // The bytes within the budget still leave before the connection goes.
        session.dead = true
        if (head.length === 0 || pump.to.destroyed) {
          fire(session, action)
          return
        }
        if (pump.direction === 'toTarget') stats.bytesToTarget += head.length
        else stats.bytesToClient += head.length
        pump.to.write(head, () => fire(session, action))
        return
      }
      session.counted += chunk.length
    }
    write(session, pump, chunk)
  }

  function addPump(
    session: Session,
    from: Socket,
    to: Socket,
    direction: Direction,
    rewrite?: ControlRewriter,
  ): Pump {
    const pump: Pump = { from, to, direction, held: [], ended: false, waitingForDrain: false }
    session.pumps.push(pump)
    if (session.stalled) from.pause()
    const end = () => {
      if (session.stalled) pump.ended = true
      else if (!to.destroyed) to.end()
    }
    from.on('end', () => (rewrite ? rewrite.afterPending(end) : end()))
    if (rewrite) {
      from.on('data', (chunk: Buffer) => rewrite.push(chunk, (out) => forward(session, pump, out)))
    } else {
      from.on('data', (chunk: Buffer) => forward(session, pump, chunk))
    }
    return pump
  }

  function forget(session: Session, socket: Socket): void {
    session.sockets.delete(socket)
    if (session.sockets.size === 0) {
      clearTimeout(session.stallTimer)
      for (const listener of session.dataListeners) listener.close()
      session.dataListeners.clear()
      sessions.delete(session)
    }
  }

  /** Joins a client socket and a target socket into the session, both directions pumped. */
  function link(session: Session, client: Socket, upstream: Socket, rewrite?: ControlRewriter): void {
    stats.live++
    for (const socket of [client, upstream]) {
      session.sockets.add(socket)
      socket.on('error', () => undefined)
    }
    client.once('close', () => {
      stats.live--
      forget(session, client)
      upstream.destroy()
    })
    upstream.once('close', () => {
      forget(session, upstream)
      client.destroy()
    })
    const pumps = [
      addPump(session, client, upstream, 'toTarget'),
      addPump(session, upstream, client, 'toClient', rewrite),
    ]
    client.once('close', () => {
      session.pumps = session.pumps.filter((pump) => !pumps.includes(pump))
    })
  }

  /** Listens on a fresh proxy port for the one data connection a passive reply announced. */
  async function openDataPort(session: Session, dataPort: number): Promise<number> {
    const listener = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
      listener.close()
      session.dataListeners.delete(listener)
      if (session.dead) {
        client.destroy()
        return
      }
      stats.dataConnections++
      const upstream = connect({ host: target.host, port: dataPort, allowHalfOpen: true })
      link(session, client, upstream)
      client.resume()
    })
    listener.on('error', () => undefined)
    session.dataListeners.add(listener)
    listener.listen(0, host)
    await once(listener, 'listening')
    const idle = setTimeout(() => {
      listener.close()
      session.dataListeners.delete(listener)
    }, DATA_LISTENER_IDLE_MS)
    idle.unref()
    listener.once('close', () => clearTimeout(idle))
    return (listener.address() as AddressInfo).port
  }

  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    stats.connections++
    const session: Session = {
      id: nextId++,
      rule: takeRule(),
      counted: 0,
      fired: false,
      dead: false,
      stalled: false,
      stallTimer: undefined,
      sockets: new Set(),
      pumps: [],
      dataListeners: new Set(),
    }
    sessions.add(session)
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true })
    const rewrite =
      options.protocol === 'ftp'
        ? new ControlRewriter((port) => openDataPort(session, port), host)
        : undefined
    link(session, client, upstream, rewrite)
    client.resume()
    events.emit('connection', session.id)
  })
  server.on('error', () => undefined)
  server.listen(0, host)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo

  let closing: Promise<void> | undefined
  return {
    host,
    port,
    events,
    setRule(next) {
      rule = next
      ruleUses = 0
    },
    release() {
      for (const session of sessions) unstall(session)
    },
    cutAll() {
      for (const session of [...sessions]) if (!session.dead) fire(session, 'cut')
    },
    resetAll() {
      for (const session of [...sessions]) if (!session.dead) fire(session, 'reset')
    },
    stats: () => ({ ...stats }),
    close() {
      closing ??= (async () => {
        const closed = once(server, 'close')
        server.close()
        for (const session of [...sessions]) kill(session, 'cut')
        await closed
      })()
      return closing
    },
  }
}

/**
 * Reads the server's side of an FTP control connection line by line and
 * rewrites passive-mode replies to a proxy port. Lines leave in order; a
 * partial line waits for its end.
 */
class ControlRewriter {
  private pending = ''
  private chain: Promise<void> = Promise.resolve()

  constructor(
    private readonly openDataPort: (serverPort: number) => Promise<number>,
    private readonly proxyHost: string,
  ) {}

  /** Runs `fn` once every line pushed so far has been emitted. */
  afterPending(fn: () => void): void {
    this.chain = this.chain.then(fn)
  }

  push(chunk: Buffer, emit: (out: Buffer) => void): void {
    this.chain = this.chain.then(async () => {
      const text = this.pending + chunk.toString('latin1')
      const end = text.lastIndexOf('\n') + 1
      this.pending = text.slice(end)
      if (end === 0) return
      const lines = text.slice(0, end).split(/(?<=\n)/)
      const out: string[] = []
      for (const line of lines) out.push(await this.rewrite(line))
      emit(Buffer.from(out.join(''), 'latin1'))
    })
  }

  private async rewrite(line: string): Promise<string> {
    const eol = line.endsWith('\r\n') ? '\r\n' : '\n'
    const body = line.slice(0, line.length - eol.length)
    const pasv = PASV.exec(body)
    if (pasv) {
      const port = await this.openDataPort(Number(pasv[6]) * 256 + Number(pasv[7]))
      const hostPart = this.proxyHost.replace(/\./g, ',')
      return `227 ${pasv[1]}(${hostPart},${Math.floor(port / 256)},${port % 256})${pasv[8]}${eol}`
    }
    const epsv = EPSV.exec(body)
    if (epsv) {
      const port = await this.openDataPort(Number(epsv[2]))
      return `229 ${epsv[1]}(|||${port}|)${epsv[3]}${eol}`
    }
    return line
  }
}
