import type { ConnectionHandlers, ListenerHandlers, RawConnection, RawListener } from "../../Driver.ts"
import type * as MemoryNetwork from "../../MemoryNetwork.ts"
import { BrokenResource } from "../../NetError.ts"
import type * as SocketAddress from "../../SocketAddress.ts"
import { hostOf, type MemoryNet, type Tracked } from "./network.ts"

/** The largest piece a write is cut into (like a kernel's socket buffer reads). */
const SEGMENT = 64 * 1024

/** Linux's minimum retransmission timeout, in milliseconds. */
const RTO = 200
const MAX_RTO = 120_000

/** Shared by both ends of one connection. */
interface Link {
  /** Bytes carried in both directions (for `resetAfterBytes`). */
  bytes: number
}

type Arrival =
  | { readonly _tag: "data"; readonly segments: ReadonlyArray<Uint8Array>; readonly size: number }
  | { readonly _tag: "fin" }
  | { readonly _tag: "rst" }

/**
 * One end of an in-memory byte-stream connection, as a {@link RawConnection}.
 *
 * The receive side models a kernel socket: bytes travel (latency, jitter,
 * bandwidth, partitions) and land in a receive buffer; they are handed to
 * core while it is not paused. The sender's window is the bytes in flight
 * plus the receiver's buffer: `write` returns false at the window and
 * `onDrain` fires once the receiver takes enough. Closing with unread
 * bytes sends a reset, as a kernel does.
 *
 * @internal
 */
export class MemoryConnection implements RawConnection, Tracked {
  peer!: MemoryConnection
  /** A virtual descriptor of the memory network's kernel: it can be passed with `FdPassing`. */
  readonly fd: number | undefined
  private fdClosed = false
  readonly extra: Readonly<Record<string, unknown>> = { memory: true }
  private handlers: ConnectionHandlers | undefined = undefined

  // receive side
  private inbound: Array<Uint8Array> = []
  inboundBytes = 0
  inFlight = 0
  private finArrived = false
  private endDelivered = false
  private failure: BrokenResource | undefined = undefined
  private errorDelivered = false
  private paused = false
  private closed = false

  // send side
  private finSent = false
  private rstSent = false
  private needDrain = false
  private lastArrival = Number.NEGATIVE_INFINITY

  bytesSent = 0
  bytesReceived = 0
  private readonly host: string
  private readonly releasePort: (() => void) | undefined

  constructor(
    private readonly net: MemoryNet,
    readonly transport: MemoryNetwork.Transport,
    readonly localAddress: SocketAddress.SocketAddress,
    readonly remoteAddress: SocketAddress.SocketAddress,
    private readonly link: Link,
    releasePort?: () => void,
  ) {
    this.host = hostOf(localAddress)
    this.releasePort = releasePort
    net.sockets.add(this)
    this.fd = net.streamDescriptors?.open(this)
  }

  static pair(
    net: MemoryNet,
    transport: MemoryNetwork.Transport,
    clientAddress: SocketAddress.SocketAddress,
    serverAddress: SocketAddress.SocketAddress,
    releasePort?: () => void,
  ): readonly [MemoryConnection, MemoryConnection] {
    const link: Link = { bytes: 0 }
    const client = new MemoryConnection(net, transport, clientAddress, serverAddress, link, releasePort)
    const server = new MemoryConnection(net, transport, serverAddress, clientAddress, link)
    client.peer = server
    server.peer = client
    net.stats.connectionsOpened++
    return [client, server]
  }

  // ---- RawConnection ----

  start(handlers: ConnectionHandlers): void {
    this.handlers = handlers
    this.paused = false
    this.net.scheduler.soon(() => this.flush())
  }

  /** A user of another descriptor of this connection stops receiving (it closed its descriptor). */
  detach(handlers: ConnectionHandlers | undefined): void {
    if (this.handlers === handlers) this.handlers = undefined
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.net.scheduler.soon(() => this.flush())
  }

  write(data: Uint8Array): boolean {
    if (this.closed || this.finSent || this.failure !== undefined || data.length === 0) return true
    const f = this.net.faults(this.host, this.peer.host)
    let chunk = data
    let resetAfter = false
    if (f.resetAfterBytes !== undefined) {
      const remaining = f.resetAfterBytes - this.link.bytes
      if (remaining <= 0) {
        this.net.scheduler.soon(() => this.resetBoth())
        return true
      }
      if (chunk.length >= remaining) {
        chunk = chunk.subarray(0, remaining)
        resetAfter = true
      }
    }
    this.link.bytes += chunk.length
    this.bytesSent += chunk.length
    this.net.stats.bytesSent += chunk.length
    const segments: Array<Uint8Array> = []
    for (let offset = 0; offset < chunk.length; offset += SEGMENT)
      segments.push(chunk.subarray(offset, offset + SEGMENT))
    const at = this.transmit({ _tag: "data", segments, size: chunk.length })
    if (resetAfter) this.net.scheduler.at(at, () => this.resetBoth())
    const peer = this.peer
    const ok = peer.inFlight + peer.inboundBytes < this.net.window
    if (!ok) this.needDrain = true
    return ok
  }

  shutdown(): void {
    if (this.closed || this.finSent || this.failure !== undefined) return
    this.finSent = true
    this.transmit({ _tag: "fin" })
  }

  close(): void {
    const descriptors = this.net.streamDescriptors
    if (this.fd === undefined || descriptors === undefined) {
      this.terminate()
      return
    }
    // closes this descriptor; the connection ends with the last one (see `FdPassing`)
    if (this.fdClosed) return
    this.fdClosed = true
    this.detach(this.handlers)
    descriptors.close(this.fd)
  }

  /** The last descriptor is closed: the connection ends (FIN, or a reset with unread bytes). */
  terminate(): void {
    if (this.closed) return
    this.closed = true
    this.net.sockets.delete(this)
    this.releasePort?.()
    if (this.failure !== undefined) return
    if (this.inboundBytes > 0) {
      this.inbound = []
      this.inboundBytes = 0
      this.sendReset()
    } else if (!this.finSent) {
      this.finSent = true
      this.transmit({ _tag: "fin" })
    }
  }

  // ---- Tracked ----

  reset(): void {
    this.resetBoth()
  }

  // ---- internals ----

  /** Sends one item towards the peer; returns its arrival time. */
  private transmit(item: Arrival): number {
    const peer = this.peer
    const size = item._tag === "data" ? item.size : 0
    const f = this.net.faults(this.host, peer.host)
    let at = this.net.departure(this.host, peer.host, f, size)
    if (item._tag !== "rst") {
      // a lost segment is sent again after the retransmission timeout
      // (200 ms, doubling), and the stream behind it waits: TCP's ordering
      let rto = RTO
      while (this.net.prng.chance(f.loss) && rto <= MAX_RTO) {
        at += rto
        rto *= 2
        this.net.stats.retransmissions++
      }
    }
    at = Math.max(at, this.lastArrival)
    this.lastArrival = at
    peer.inFlight += size
    this.net.scheduler.at(at, () => peer.arrive(this, item))
    return at
  }

  private arrive(from: MemoryConnection, item: Arrival): void {
    if (this.net.partitioned(from.host, this.host)) {
      // the link is cut: the bytes wait (retransmissions) until it heals
      this.net.hold(from.host, this.host, () => {
        const f = this.net.faults(from.host, this.host)
        const at = Math.max(this.net.now() + f.latency, from.lastArrival)
        from.lastArrival = at
        this.net.scheduler.at(at, () => this.arrive(from, item))
      })
      return
    }
    const size = item._tag === "data" ? item.size : 0
    this.inFlight -= size
    if (item._tag === "rst") {
      this.abort("ECONNRESET")
      return
    }
    if (this.closed || this.failure !== undefined) {
      // data for a closed socket: the kernel answers with a reset
      if (this.closed && item._tag === "data") this.sendReset()
      from.maybeDrain()
      return
    }
    if (item._tag === "fin") {
      this.finArrived = true
    } else {
      for (const s of item.segments) this.inbound.push(s)
      this.inboundBytes += size
      this.bytesReceived += size
      this.net.stats.bytesDelivered += size
    }
    this.flush()
  }

  private sendReset(): void {
    if (this.rstSent) return
    this.rstSent = true
    this.finSent = true
    this.net.stats.connectionsReset++
    this.transmit({ _tag: "rst" })
  }

  /** Resets both ends at once (a middlebox reset or `Control.reset`). */
  resetBoth(): void {
    const live = (c: MemoryConnection) => !c.closed && c.failure === undefined
    if (!live(this) && !live(this.peer)) return
    this.net.stats.connectionsReset++
    this.abort("ECONNRESET")
    this.peer.abort("ECONNRESET")
  }

  private abort(code: string): void {
    if (this.closed || this.failure !== undefined) return
    this.failure = new BrokenResource({
      operation: "receive",
      code,
      syscall: "read",
      address: this.remoteAddress,
    })
    this.inbound = []
    this.inboundBytes = 0
    this.finSent = true
    this.flush()
  }

  private maybeDrain(): void {
    const peer = this.peer
    if (!this.needDrain || this.closed || this.handlers === undefined) return
    if (peer.inFlight + peer.inboundBytes < this.net.window || peer.closed || peer.failure !== undefined) {
      this.needDrain = false
      this.handlers.onDrain()
    }
  }

  private flush(): void {
    const h = this.handlers
    if (h === undefined || this.closed) return
    if (this.failure !== undefined) {
      if (!this.errorDelivered) {
        this.errorDelivered = true
        h.onError(this.failure)
        h.onClose()
      }
      return
    }
    while (!this.paused && this.inbound.length > 0) {
      const chunk = this.inbound.shift() as Uint8Array
      this.inboundBytes -= chunk.length
      h.onData(chunk)
    }
    this.peer.maybeDrain()
    if (this.inbound.length === 0 && this.finArrived && !this.endDelivered) {
      this.endDelivered = true
      h.onEnd()
    }
  }
}

/**
 * A listening in-memory socket.
 *
 * @internal
 */
export class MemoryListener implements RawListener {
  readonly fd = undefined
  private handlers: ListenerHandlers | undefined = undefined
  private pending: Array<RawConnection> = []
  private closed = false

  constructor(
    private readonly net: MemoryNet,
    readonly transport: MemoryNetwork.Transport,
    readonly address: SocketAddress.SocketAddress,
    private readonly release: () => void,
  ) {
    net.listening.add(this)
  }

  start(handlers: ListenerHandlers): void {
    this.handlers = handlers
    const pending = this.pending
    this.pending = []
    for (const c of pending) handlers.onConnection(c)
  }

  /** A connection arrived for this listener. */
  deliver(connection: RawConnection): void {
    if (this.closed) {
      connection.close()
      return
    }
    if (this.handlers === undefined) this.pending.push(connection)
    else this.handlers.onConnection(connection)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.net.listening.delete(this)
    this.release()
    for (const c of this.pending.splice(0)) c.close()
  }
}
