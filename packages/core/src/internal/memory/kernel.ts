import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ConnectionHandlers, RawConnection } from "../../Driver.ts"
import type {
  AnyAddress,
  FileOps,
  NativeAddon,
  NativeAddress,
  NativeBinding,
  NativeDriver,
} from "../../NativeDriver.ts"
import { BrokenResource } from "../../NetError.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import { concatBytes } from "../bytes.ts"
import type { MemoryNet, Tracked } from "./network.ts"
import { type MemoryConnection, MemoryListener } from "./stream.ts"
import type { UnixNamespace } from "./unix.ts"

/*
 * A small virtual kernel for the memory network: AF_UNIX stream and
 * datagram sockets, SCM_RIGHTS descriptor passing and in-memory files,
 * behind the same `NativeBinding` contract as the `@netfx/native` addon.
 * Core's Unix datagram and fd-passing code runs on it unchanged, so the
 * memory network keeps exactly the semantics (EAGAIN and readiness,
 * truncation, MSG_CTRUNC, resets) the real transports have.
 *
 * Descriptors are numbers from 1000 up (lowest free first), distinct
 * from the process's real descriptors. A descriptor refers to an object
 * (socket or file) with a reference count: `dup`, an in-flight
 * SCM_RIGHTS message and a received descriptor each hold one; the object
 * is released when the last goes.
 *
 * Unix traffic is local: no link fault applies to it. Readiness events
 * are delivered on the memory network's scheduler fiber, never from the
 * caller's stack.
 */

const ERRNO: Record<string, number> = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EINVAL: 22,
  EPIPE: 32,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  ECONNRESET: 104,
  EISCONN: 106,
  ENOTCONN: 107,
  ECONNREFUSED: 111,
}
const NAMES = new Map(Object.entries(ERRNO).map(([k, v]) => [v, k]))
const err = (code: keyof typeof ERRNO): number => -(ERRNO[code] as number)

const C = {
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_SEQPACKET: 5,
  SOL_SOCKET: 1,
  SO_TYPE: 3,
  SO_ERROR: 4,
  SO_ACCEPTCONN: 30,
  SO_DOMAIN: 39,
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_KEEPALIVE: 9,
  SO_REUSEADDR: 2,
  SO_PASSCRED: 16,
  SO_RCVTIMEO: 20,
  SO_SNDTIMEO: 21,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  EV_READ: 1,
  EV_WRITE: 2,
  EV_ERROR: 4,
} as const

const EV_READ = 1
const EV_WRITE = 2

/** Linux's defaults: socket buffer (wmem_default) and the datagram queue length (max_dgram_qlen). */
const SNDBUF = 212992
const MAX_DGRAM_QLEN = 10
/** Linux's SCM_MAX_FD. */
const MAX_FDS = 253
const FIRST_FD = 1000

type Address = SocketAddress.UnixPath | SocketAddress.UnixAbstract
const unnamed: Address = SocketAddress.unixPath("")
const toNative = (a: Address): NativeAddress =>
  a._tag === "UnixPath" ? { path: a.path, abstract: false } : { path: a.name, abstract: true }
const fromName = (name: string, abstract: boolean): Address =>
  abstract ? SocketAddress.unixAbstract(name) : SocketAddress.unixPath(name)

/** An object a descriptor refers to. */
abstract class Obj {
  refs = 0
  abstract release(): void
  unref(): void {
    if (--this.refs === 0) this.release()
  }
}

/** An in-memory file (see `ControlService.openFile`). */
class FileObj extends Obj {
  position = 0
  constructor(public data: Uint8Array) {
    super()
  }
  release(): void {}
}

/** A memory TCP or Unix stream connection (see `MemoryConnection`): it ends with its last descriptor. */
class ConnectionObj extends Obj {
  constructor(readonly connection: MemoryConnection) {
    super()
  }
  release(): void {
    this.connection.terminate()
  }
}

interface Segment {
  data: Uint8Array
  fds: Array<Obj>
}

interface Datagram {
  readonly data: Uint8Array
  readonly from: Address
  readonly sender: Sock
}

class Sock extends Obj implements Tracked {
  address: Address = unnamed
  bound = false
  // stream
  listening = false
  backlog = 0
  pending: Array<Sock> = []
  peer: Sock | undefined = undefined
  connected = false
  recv: Array<Segment> = []
  recvBytes = 0
  peerEof = false
  shutWr = false
  error: string | undefined = undefined
  // datagram
  dgrams: Array<Datagram> = []
  /** Datagrams on their way here (latency faults); they count against the queue length. */
  inFlight = 0
  /** The datagram peer (connect) and its address. */
  dgramPeer: Sock | undefined = undefined
  /** Bytes this socket sent that wait unread in a receiver's queue (the send buffer). */
  outstanding = 0
  dead = false
  readonly options = new Map<string, number>()
  bytesSent = 0
  bytesReceived = 0

  constructor(
    readonly kernel: Kernel,
    readonly type: number,
  ) {
    super()
  }

  get transport() {
    return this.type === C.SOCK_DGRAM ? ("unixDatagram" as const) : ("unix" as const)
  }
  get localAddress(): SocketAddress.SocketAddress {
    return this.address
  }
  get remoteAddress(): SocketAddress.SocketAddress | undefined {
    if (this.type === C.SOCK_DGRAM) return this.dgramPeer?.address
    return this.peer === undefined ? undefined : this.peer.address
  }

  reset(): void {
    if (this.peer === undefined) return
    this.error = "ECONNRESET"
    this.peerEof = true
    this.peer.error = "ECONNRESET"
    this.peer.peerEof = true
    this.kernel.net.stats.connectionsReset++
    this.kernel.poke()
  }

  readable(): boolean {
    if (this.dead) return true
    if (this.type === C.SOCK_DGRAM) return this.dgrams.length > 0 || this.error !== undefined
    if (this.listening) return this.pending.length > 0
    return this.recv.length > 0 || this.peerEof || this.error !== undefined
  }

  writable(): boolean {
    if (this.dead || this.error !== undefined) return true
    if (this.type === C.SOCK_DGRAM) {
      const p = this.dgramPeer
      return p === undefined || p.dead || (p.dgrams.length + p.inFlight < MAX_DGRAM_QLEN && this.outstanding < SNDBUF)
    }
    const p = this.peer
    if (p === undefined) return this.connected
    return p.dead || this.shutWr || p.recvBytes < this.kernel.net.window
  }

  release(): void {
    if (this.dead) return
    this.dead = true
    const k = this.kernel
    k.net.sockets.delete(this)
    if (this.bound) {
      k.fs.release(this.address, this)
      k.unlisten(this)
    }
    for (const embryo of this.pending) {
      // connections never accepted: their clients are reset
      if (embryo.peer !== undefined) {
        embryo.peer.error = "ECONNRESET"
        embryo.peer.peerEof = true
      }
      embryo.dropQueue()
    }
    this.pending = []
    const p = this.peer
    if (p !== undefined) {
      p.peerEof = true
      // closing with unread bytes resets the connection, as Linux does
      if (this.recv.length > 0) {
        p.error = "ECONNRESET"
        k.net.stats.connectionsReset++
      }
    }
    this.dropQueue()
    for (const d of this.dgrams) d.sender.outstanding -= d.data.length
    this.dgrams = []
    k.poke()
  }

  dropQueue(): void {
    for (const s of this.recv) for (const o of s.fds) o.unref()
    this.recv = []
    this.recvBytes = 0
  }
}

interface Watch {
  armed: number
  readonly onEvent: (events: number) => void
  closed: boolean
}

/** @internal */
export class Kernel {
  private readonly table = new Map<number, Obj>()
  private readonly watches = new Map<number, Set<Watch>>()
  private readonly sendWaiters = new Set<() => boolean>()
  private readonly adopted = new Set<() => void>()
  private poked = false

  constructor(
    readonly net: MemoryNet,
    readonly fs: UnixNamespace,
  ) {
    net.streamDescriptors = {
      open: (connection) => this.allocate(new ConnectionObj(connection)),
      close: (fd) => {
        this.binding.close(fd)
      },
    }
  }

  private anyName(r: NativeAddress | number): AnyAddress | number {
    return typeof r === "number" ? r : { family: 1, path: r.path, abstract: r.abstract }
  }

  /** Open descriptors (for tests and `Control.descriptors`). */
  get open(): number {
    return this.table.size
  }

  private allocate(obj: Obj): number {
    let fd = FIRST_FD
    while (this.table.has(fd)) fd++
    obj.refs++
    this.table.set(fd, obj)
    return fd
  }

  private sock(fd: number): Sock | number {
    const o = this.table.get(fd)
    if (o === undefined) return err("EBADF")
    if (!(o instanceof Sock)) return err("ENOTSOCK")
    return o
  }

  openFile(data: Uint8Array): { readonly fd: number; readonly owner: Obj } {
    const owner = new FileObj(data.slice())
    return { fd: this.allocate(owner), owner }
  }

  /** Closes `fd` if it still refers to `owner` (the number may have been closed and reused). */
  closeIf(fd: number, owner: Obj): void {
    if (this.table.get(fd) === owner) this.binding.close(fd)
  }

  /** The `Control.listeners` entry of each listening or bound datagram socket. */
  private readonly listed = new Map<Sock, { readonly transport: "unix" | "unixDatagram"; readonly address: Address }>()

  list(s: Sock): void {
    const entry = { transport: s.transport, address: s.address }
    this.listed.set(s, entry)
    this.net.listening.add(entry)
  }

  unlisten(s: Sock): void {
    const entry = this.listed.get(s)
    if (entry === undefined) return
    this.listed.delete(s)
    this.net.listening.delete(entry)
  }

  /** Schedules readiness checks on the scheduler fiber (coalesced). */
  poke(): void {
    if (this.poked) return
    this.poked = true
    this.net.scheduler.soon(() => {
      this.poked = false
      for (const waiter of [...this.sendWaiters]) if (waiter()) this.sendWaiters.delete(waiter)
      for (const [fd, set] of this.watches) {
        const o = this.table.get(fd)
        for (const w of set) {
          if (w.armed === 0 || w.closed) continue
          const events =
            o instanceof Sock
              ? (w.armed & EV_READ && o.readable() ? EV_READ : 0) | (w.armed & EV_WRITE && o.writable() ? EV_WRITE : 0)
              : w.armed
          if (events !== 0) {
            w.armed = 0
            w.onEvent(events)
          }
        }
      }
      for (const f of [...this.adopted]) f()
    })
  }

  private connectStream(s: Sock, target: Address): number {
    const found = this.fs.owner(target)
    if (typeof found === "string") return err(found as keyof typeof ERRNO)
    const l = found.owner
    if (l instanceof MemoryListener) {
      // a `Unix.listen` listener: its side of the connection is a byte stream over a virtual socket
      const server = new Sock(this, C.SOCK_STREAM)
      server.address = l.address as Address
      server.connected = s.connected = true
      server.peer = s
      s.peer = server
      this.net.stats.connectionsOpened++
      this.net.sockets.add(s)
      this.net.sockets.add(server)
      l.deliver(new AdoptedConnection(this, this.allocate(server), server))
      return 0
    }
    if (!(l instanceof Sock)) return err("ECONNREFUSED")
    if (l.type !== C.SOCK_STREAM) return err("EPROTOTYPE")
    if (!l.listening) return err("ECONNREFUSED")
    if (l.pending.length >= l.backlog) return err("EAGAIN")
    const server = new Sock(this, C.SOCK_STREAM)
    server.address = l.address
    server.connected = true
    server.peer = s
    s.peer = server
    s.connected = true
    l.pending.push(server)
    this.net.stats.connectionsOpened++
    this.net.sockets.add(s)
    this.poke()
    return 0
  }

  private sendDatagram(s: Sock, data: Uint8Array, target: Sock | undefined, to: Address | undefined): number {
    if (data.length > SNDBUF - 32) return err("EMSGSIZE")
    let t = target
    if (t === undefined) {
      if (to === undefined) return err("ENOTCONN")
      const found = this.fs.owner(to)
      if (typeof found === "string") return err(found as keyof typeof ERRNO)
      if (!(found.owner instanceof Sock)) return err("EPROTOTYPE")
      t = found.owner
    }
    if (t.dead) return err("ECONNREFUSED")
    if (t.type !== C.SOCK_DGRAM) return err("EPROTOTYPE")
    // a connected receiver takes datagrams from its peer only
    if (t.dgramPeer !== undefined && t.dgramPeer !== s) return err("EPERM")
    if (t.dgrams.length + t.inFlight >= MAX_DGRAM_QLEN || s.outstanding + data.length > SNDBUF) return err("EAGAIN")
    const net = this.net
    const receiver = t
    const size = data.length
    s.bytesSent += size
    net.stats.datagramsSent++
    // the faults in force for the `unix` host, as for Unix streams (none by default)
    const f = net.faults("unix", "unix")
    if (
      net.partitioned("unix", "unix") ||
      (f.maxDatagramSize !== undefined && size > f.maxDatagramSize) ||
      net.prng.chance(f.loss)
    ) {
      net.stats.datagramsDropped++
      return size
    }
    const copies = net.prng.chance(f.duplicate) ? 2 : 1
    if (copies === 2) net.stats.datagramsDuplicated++
    const immediate = f.latency === 0 && f.jitter === 0 && f.bandwidth === undefined && f.reorder === 0
    for (let i = 0; i < copies; i++) {
      const datagram: Datagram = { data: data.slice(), from: s.address, sender: s }
      s.outstanding += size
      if (immediate) {
        receiver.dgrams.push(datagram)
        net.stats.datagramsDelivered++
        continue
      }
      let at = net.departure("unix", "unix", f, size)
      if (net.prng.chance(f.reorder)) at += Math.max(2 * f.latency, 10)
      receiver.inFlight++
      net.scheduler.at(at, () => {
        receiver.inFlight--
        if (receiver.dead) {
          s.outstanding -= size
          net.stats.datagramsDropped++
        } else {
          receiver.dgrams.push(datagram)
          net.stats.datagramsDelivered++
        }
        this.poke()
      })
    }
    this.poke()
    return size
  }

  private attach(fds: ReadonlyArray<number>): Array<Obj> | number {
    const objs: Array<Obj> = []
    for (const fd of fds) {
      const o = this.table.get(fd)
      if (o === undefined) return err("EBADF")
      objs.push(o)
    }
    for (const o of objs) o.refs++
    return objs
  }

  private sendStream(s: Sock, data: Uint8Array, fds: ReadonlyArray<number>): number {
    const p = s.peer
    if (!s.connected || p === undefined) return err("ENOTCONN")
    if (s.shutWr || p.dead) return err("EPIPE")
    const room = this.net.window - p.recvBytes
    if (room <= 0) return err("EAGAIN")
    if (fds.length > MAX_FDS) return err("EINVAL")
    const objs = this.attach(fds)
    if (typeof objs === "number") return objs
    const n = Math.min(room, data.length)
    p.recv.push({ data: data.slice(0, n), fds: objs })
    p.recvBytes += n
    s.bytesSent += n
    this.net.stats.bytesSent += n
    this.poke()
    return n
  }

  private recvStream(s: Sock, maxBytes: number, maxFds: number) {
    if (s.recv.length === 0) {
      if (s.error !== undefined) {
        const e = s.error
        s.error = undefined
        return err(e as keyof typeof ERRNO)
      }
      if (s.peerEof || s.peer === undefined || s.peer.dead)
        return { data: new Uint8Array(0), fds: [], truncated: false, dataTruncated: false }
      return err("EAGAIN")
    }
    const parts: Array<Uint8Array> = []
    let size = 0
    let objs: Array<Obj> = []
    while (s.recv.length > 0 && size < maxBytes) {
      const seg = s.recv[0] as Segment
      if (seg.fds.length > 0 && objs.length > 0) break
      const take = Math.min(seg.data.length, maxBytes - size)
      parts.push(seg.data.subarray(0, take))
      size += take
      if (take === seg.data.length) s.recv.shift()
      else seg.data = seg.data.subarray(take)
      const carried = seg.fds
      seg.fds = []
      if (carried.length > 0) {
        objs = carried
        break
      }
    }
    s.recvBytes -= size
    s.bytesReceived += size
    this.net.stats.bytesDelivered += size
    const data = concatBytes(parts, size)
    // the in-flight references become descriptors; extras are closed (MSG_CTRUNC)
    const fds = objs.slice(0, maxFds).map((o) => {
      const fd = this.allocate(o)
      o.refs--
      return fd
    })
    for (const o of objs.slice(maxFds)) o.unref()
    this.poke()
    return { data, fds, truncated: objs.length > maxFds, dataTruncated: false }
  }

  readonly binding: NativeBinding = {
    constants: C,
    socket: (type) => {
      if (type !== C.SOCK_STREAM && type !== C.SOCK_DGRAM) return err("EPROTOTYPE")
      return this.allocate(new Sock(this, type))
    },
    socketpair: (type) => {
      if (type !== C.SOCK_STREAM && type !== C.SOCK_DGRAM) return err("EPROTOTYPE")
      const a = new Sock(this, type)
      const b = new Sock(this, type)
      if (type === C.SOCK_STREAM) {
        a.peer = b
        b.peer = a
        a.connected = b.connected = true
        this.net.sockets.add(a)
        this.net.sockets.add(b)
      } else {
        a.dgramPeer = b
        b.dgramPeer = a
      }
      return [this.allocate(a), this.allocate(b)]
    },
    bind: (fd, name, abstract) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      if (s.bound) return err("EINVAL")
      const address = fromName(name, abstract)
      const code = this.fs.bind(address, s)
      if (code !== undefined) return err(code as keyof typeof ERRNO)
      s.address = address
      s.bound = true
      if (s.type === C.SOCK_DGRAM) {
        this.list(s)
        this.net.sockets.add(s)
      }
      return 0
    },
    connect: (fd, name, abstract) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      const target = fromName(name, abstract)
      if (s.type === C.SOCK_STREAM) {
        if (s.connected) return err("EISCONN")
        return this.connectStream(s, target)
      }
      const found = this.fs.owner(target)
      if (typeof found === "string") return err(found as keyof typeof ERRNO)
      if (!(found.owner instanceof Sock)) return err("ECONNREFUSED")
      if (found.owner.type !== C.SOCK_DGRAM) return err("EPROTOTYPE")
      s.dgramPeer = found.owner
      this.net.sockets.add(s)
      return 0
    },
    listen: (fd, backlog) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      if (s.type !== C.SOCK_STREAM || s.connected) return err("EINVAL")
      s.listening = true
      s.backlog = Math.max(1, backlog)
      this.list(s)
      return 0
    },
    accept: (fd) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      if (!s.listening) return err("EINVAL")
      const next = s.pending.shift()
      if (next === undefined) return err("EAGAIN")
      this.net.sockets.add(next)
      this.poke()
      return this.allocate(next)
    },
    getsockname: (fd) => {
      const s = this.sock(fd)
      return typeof s === "number" ? s : toNative(s.address)
    },
    getpeername: (fd) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      const p = s.type === C.SOCK_DGRAM ? s.dgramPeer : s.peer
      return p === undefined ? err("ENOTCONN") : toNative(p.address)
    },
    sendto: (fd, data, name, abstract) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      if (s.type === C.SOCK_STREAM) return this.sendStream(s, data, [])
      if (name === null) {
        if (s.dgramPeer === undefined) return err("ENOTCONN")
        return this.sendDatagram(s, data, s.dgramPeer, undefined)
      }
      return this.sendDatagram(s, data, undefined, fromName(name, abstract))
    },
    sendtoWait: (fd, data, name, abstract, callback) => {
      const attempt = (): boolean => {
        const r = this.binding.sendto(fd, data, name, abstract)
        if (r === err("EAGAIN")) return false
        callback(r)
        return true
      }
      // the result always arrives from the scheduler fiber, never from the caller's stack
      this.net.scheduler.soon(() => {
        if (!attempt()) this.sendWaiters.add(attempt)
      })
      return 0
    },
    recvfrom: (fd, maxBytes) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      if (s.type === C.SOCK_STREAM) {
        const r = this.recvStream(s, maxBytes, 0)
        return typeof r === "number" ? r : { data: r.data, address: toNative(unnamed), truncated: false }
      }
      const d = s.dgrams.shift()
      if (d === undefined) return err("EAGAIN")
      d.sender.outstanding -= d.data.length
      s.bytesReceived += d.data.length
      this.poke()
      const truncated = d.data.length > maxBytes
      return { data: truncated ? d.data.slice(0, maxBytes) : d.data, address: toNative(d.from), truncated }
    },
    sendmsg: (fd, data, fds) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      if (s.type !== C.SOCK_STREAM) return err("EOPNOTSUPP")
      return this.sendStream(s, data, fds)
    },
    recvmsg: (fd, maxBytes, maxFds) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      if (s.type !== C.SOCK_STREAM) return err("EOPNOTSUPP")
      return this.recvStream(s, maxBytes, maxFds)
    },
    setsockopt: (fd, level, name, value) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      s.options.set(`${level}:${name}`, value)
      return 0
    },
    getsockopt: (fd, level, name) => {
      const s = this.sock(fd)
      if (typeof s === "number") return [-s, 0] as const
      if (level === C.SOL_SOCKET && name === C.SO_ERROR) {
        const e = s.error
        s.error = undefined
        return [0, e === undefined ? 0 : (ERRNO[e] ?? 0)] as const
      }
      if (level === C.SOL_SOCKET && name === C.SO_TYPE) return [0, s.type] as const
      if (level === C.SOL_SOCKET && name === C.SO_DOMAIN) return [0, C.AF_UNIX] as const
      if (level === C.SOL_SOCKET && name === C.SO_ACCEPTCONN) return [0, s.listening ? 1 : 0] as const
      const set = s.options.get(`${level}:${name}`)
      if (set !== undefined) return [0, set] as const
      if (level === C.SOL_SOCKET && (name === C.SO_SNDBUF || name === C.SO_RCVBUF)) return [0, SNDBUF] as const
      return [0, 0] as const
    },
    shutdown: (fd, how) => {
      const s = this.sock(fd)
      if (typeof s === "number") return s
      if (s.type !== C.SOCK_STREAM || !s.connected) return err("ENOTCONN")
      if (how === C.SHUT_WR || how === C.SHUT_RDWR) {
        s.shutWr = true
        if (s.peer !== undefined) s.peer.peerEof = true
      }
      this.poke()
      return 0
    },
    close: (fd) => {
      const o = this.table.get(fd)
      if (o === undefined) return err("EBADF")
      this.table.delete(fd)
      const set = this.watches.get(fd)
      if (set !== undefined) for (const w of set) w.closed = true
      this.watches.delete(fd)
      o.unref()
      return 0
    },
    dup: (fd) => {
      const o = this.table.get(fd)
      return o === undefined ? err("EBADF") : this.allocate(o)
    },
    setNonBlocking: (fd) => (this.table.has(fd) ? 0 : err("EBADF")),
    setTimeout: (fd) => (this.table.has(fd) ? 0 : err("EBADF")),
    // the low-level layer (RawSocket): Unix sockets only, there is no IP in this kernel
    socketAny: (family, type) => (family === 1 ? this.binding.socket(type) : err("EAFNOSUPPORT")),
    bindAny: (fd, address) =>
      address.family === 1 ? this.binding.bind(fd, address.path, address.abstract) : err("EAFNOSUPPORT"),
    connectAny: (fd, address) =>
      address.family === 1 ? this.binding.connect(fd, address.path, address.abstract) : err("EAFNOSUPPORT"),
    getsocknameAny: (fd) => this.anyName(this.binding.getsockname(fd)),
    getpeernameAny: (fd) => this.anyName(this.binding.getpeername(fd)),
    sendtoAny: (fd, data, address) => {
      if (address === null) return this.binding.sendto(fd, data, null, false)
      return address.family === 1 ? this.binding.sendto(fd, data, address.path, address.abstract) : err("EAFNOSUPPORT")
    },
    recvfromAny: (fd, maxBytes, peek) => {
      if (peek === true) return err("EOPNOTSUPP")
      const s = this.sock(fd)
      if (typeof s === "number") return s
      if (s.type === C.SOCK_STREAM) {
        const r = this.recvStream(s, maxBytes, 0)
        return typeof r === "number" ? r : { data: r.data, address: null, truncated: false }
      }
      const r = this.binding.recvfrom(fd, maxBytes)
      return typeof r === "number" ? r : { data: r.data, address: { family: 1, ...r.address }, truncated: r.truncated }
    },
    pollReadable: (fd) => {
      const o = this.table.get(fd)
      if (o === undefined) return err("EBADF")
      return o instanceof Sock ? (o.readable() ? 1 : 0) : 1
    },
  }

  readonly addon: NativeAddon = {
    binding: this.binding,
    loadError: undefined,
    fix: "",
    runtime: "memory",
    readiness: "memory",
    errnoName: (n) => NAMES.get(Math.abs(n)) ?? `E${Math.abs(n)}`,
    watch: (fd, onEvent) => {
      if (!this.table.has(fd)) return err("EBADF")
      const w: Watch = { armed: 0, onEvent, closed: false }
      const set = this.watches.get(fd) ?? new Set()
      set.add(w)
      this.watches.set(fd, set)
      return {
        arm: (events) => {
          if (w.closed) return err("EBADF")
          w.armed = events
          if (events !== 0) this.poke()
          return 0
        },
        close: () => {
          w.closed = true
          this.watches.get(fd)?.delete(w)
        },
      }
    },
  }

  /** File operations on virtual descriptors (files and stream sockets). */
  readonly file: FileOps = {
    read: (fd, maxBytes) =>
      Effect.suspend(() => {
        const o = this.table.get(fd)
        if (o instanceof FileObj) {
          const chunk = o.data.slice(o.position, o.position + maxBytes)
          o.position += chunk.length
          return Effect.succeed(chunk)
        }
        return Effect.fail(
          new BrokenResource({ operation: "read", code: o === undefined ? "EBADF" : "EINVAL", syscall: "read" }),
        )
      }),
    write: (fd, data) =>
      Effect.suspend(() => {
        const o = this.table.get(fd)
        if (!(o instanceof FileObj))
          return Effect.fail(
            new BrokenResource({ operation: "write", code: o === undefined ? "EBADF" : "EINVAL", syscall: "write" }),
          )
        const end = o.position + data.length
        if (end > o.data.length) {
          const grown = new Uint8Array(end)
          grown.set(o.data)
          o.data = grown
        }
        o.data.set(data, o.position)
        o.position = end
        return Effect.void
      }),
    close: (fd) =>
      Effect.sync(() => {
        this.binding.close(fd)
      }),
  }

  /** A virtual stream socket descriptor as a `RawConnection` (`FdPassing.toByteStream`). */
  adoptStream(fd: number): Effect.Effect<RawConnection, BrokenResource, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.suspend((): Effect.Effect<RawConnection, BrokenResource> => {
        const o = this.table.get(fd)
        if (o instanceof ConnectionObj) return Effect.succeed(new ConnectionView(this, fd, o.connection))
        const s = this.sock(fd)
        if (typeof s === "number" || s.type !== C.SOCK_STREAM || !s.connected)
          return Effect.fail(
            new BrokenResource({
              operation: "adoptStream",
              code: typeof s === "number" ? this.addon.errnoName(s) : "ENOTCONN",
              syscall: "adoptStream",
            }),
          )
        return Effect.succeed(new AdoptedConnection(this, fd, s))
      }),
      (c) => Effect.sync(() => c.close()),
    )
  }

  /**
   * `Unix.connect` to an `FdPassing` listener: the client side as a byte
   * stream over a virtual socket, or the errno.
   */
  connectToListener(owner: unknown, address: Address): RawConnection | string | undefined {
    if (!(owner instanceof Sock)) return undefined
    const s = new Sock(this, C.SOCK_STREAM)
    const fd = this.allocate(s)
    const r = this.connectStream(s, address)
    if (r < 0) {
      this.binding.close(fd)
      return this.addon.errnoName(r)
    }
    return new AdoptedConnection(this, fd, s)
  }

  /** @internal */
  track(f: () => void): () => void {
    this.adopted.add(f)
    return () => this.adopted.delete(f)
  }

  driver(): NativeDriver {
    return { addon: this.addon, adoptStream: (fd) => this.adoptStream(fd), file: this.file }
  }
}

/** A virtual stream socket pushed into core's state machine. */
class AdoptedConnection implements RawConnection {
  readonly extra: Readonly<Record<string, unknown>> = { memory: true }
  readonly localAddress: SocketAddress.SocketAddress
  readonly remoteAddress: SocketAddress.SocketAddress
  private handlers: ConnectionHandlers | undefined
  private paused = false
  private outgoing: Array<Uint8Array> = []
  private needDrain = false
  private shutdownWanted = false
  private ended = false
  private closed = false
  private readonly untrack: () => void

  constructor(
    private readonly kernel: Kernel,
    readonly fd: number,
    private readonly sock: Sock,
  ) {
    this.localAddress = sock.address
    this.remoteAddress = sock.peer?.address ?? unnamed
    this.untrack = kernel.track(() => this.pump())
  }

  start(handlers: ConnectionHandlers): void {
    this.handlers = handlers
    this.kernel.poke()
  }
  pause(): void {
    this.paused = true
  }
  resume(): void {
    this.paused = false
    this.kernel.poke()
  }

  write(data: Uint8Array): boolean {
    this.outgoing.push(data)
    this.kernel.poke()
    if (this.outgoing.length > 0) this.needDrain = true
    return false
  }

  shutdown(): void {
    this.shutdownWanted = true
    this.kernel.poke()
  }

  close(unread?: boolean): void {
    if (this.closed) return
    this.closed = true
    this.untrack()
    // core still held bytes it had read ahead: a reset, as a kernel gives
    if (unread === true) this.sock.reset()
    this.kernel.binding.close(this.fd)
    this.handlers?.onClose()
  }

  private pump(): void {
    const h = this.handlers
    if (this.closed || h === undefined) return
    const b = this.kernel.binding
    // send what fits
    while (this.outgoing.length > 0) {
      const head = this.outgoing[0] as Uint8Array
      const n = b.sendmsg(this.fd, head, [])
      if (n === -11) break
      if (n < 0) {
        this.outgoing = []
        h.onError(new BrokenResource({ operation: "send", code: this.kernel.addon.errnoName(n), syscall: "sendmsg" }))
        return
      }
      if (n === head.length) this.outgoing.shift()
      else this.outgoing[0] = head.subarray(n)
    }
    if (this.outgoing.length === 0) {
      if (this.needDrain) {
        this.needDrain = false
        h.onDrain()
      }
      if (this.shutdownWanted) {
        this.shutdownWanted = false
        b.shutdown(this.fd, C.SHUT_WR)
      }
    }
    // receive while core wants bytes (descriptors sent along are closed: a byte stream has no use for them)
    while (!this.paused && !this.ended && !this.closed) {
      const r = b.recvmsg(this.fd, 65536, MAX_FDS)
      if (typeof r === "number") {
        if (r === -11) break
        this.ended = true
        h.onError(new BrokenResource({ operation: "receive", code: this.kernel.addon.errnoName(r), syscall: "recv" }))
        break
      }
      for (const fd of r.fds) b.close(fd)
      if (r.data.length === 0 && r.fds.length === 0) {
        this.ended = true
        h.onEnd()
        break
      }
      if (r.data.length > 0) h.onData(r.data)
    }
  }
}

/**
 * Another descriptor of a memory TCP or Unix connection, adopted as a byte
 * stream: it takes over receiving (the connection delivers to its most
 * recent adopter) and closes only its own descriptor.
 */
class ConnectionView implements RawConnection {
  readonly extra: Readonly<Record<string, unknown>> = { memory: true }
  private handlers: ConnectionHandlers | undefined
  private closed = false
  constructor(
    private readonly kernel: Kernel,
    readonly fd: number,
    private readonly connection: MemoryConnection,
  ) {}
  get localAddress(): SocketAddress.SocketAddress {
    return this.connection.localAddress
  }
  get remoteAddress(): SocketAddress.SocketAddress {
    return this.connection.remoteAddress
  }
  start(handlers: ConnectionHandlers): void {
    this.handlers = handlers
    this.connection.start(handlers)
  }
  pause(): void {
    this.connection.pause()
  }
  resume(): void {
    this.connection.resume()
  }
  write(data: Uint8Array): boolean {
    return this.connection.write(data)
  }
  shutdown(): void {
    this.connection.shutdown()
  }
  close(): void {
    if (this.closed) return
    this.closed = true
    this.connection.detach(this.handlers)
    this.kernel.binding.close(this.fd)
  }
}
