import type * as SocketAddress from "../../../SocketAddress.ts"
import type { Tracked } from "../network.ts"
import { type Address, C, MAX_DGRAM_QLEN, SNDBUF, unnamed } from "./constants.ts"
import { Obj } from "./descriptors.ts"
import type { Kernel } from "./index.ts"

/*
 * A virtual AF_UNIX socket: the state of a stream socket (listener,
 * connection: `streamSockets.ts`) or of a datagram socket (its queue:
 * `datagramSockets.ts`), whether it is readable or writable now (what
 * `readiness.ts` reports), and what closing its last descriptor does.
 */

/** A piece of a stream socket's receive queue, with the descriptors sent along (in-flight references). */
export interface Segment {
  data: Uint8Array
  fds: Array<Obj>
}

/** A datagram in a datagram socket's receive queue. */
export interface Datagram {
  readonly data: Uint8Array
  readonly from: Address
  readonly sender: Sock
}

export class Sock extends Obj implements Tracked {
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
