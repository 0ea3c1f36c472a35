import type { ConnectionHandlers, RawConnection } from "../../../Driver.ts"
import { BrokenResource } from "../../../NetError.ts"
import type * as SocketAddress from "../../../SocketAddress.ts"
import type { MemoryConnection } from "../stream.ts"
import { C, MAX_FDS, unnamed } from "./constants.ts"
import { Obj } from "./descriptors.ts"
import type { Kernel } from "./index.ts"
import type { Sock } from "./socket.ts"

/*
 * Stream descriptors as byte streams (`RawConnection`), where the kernel
 * meets the memory network's connections (`../stream.ts`):
 * - `ConnectionObj`: a memory TCP or Unix connection given a descriptor,
 *   so it can be passed with `FdPassing`;
 * - `AdoptedConnection`: a virtual stream socket pushed into core's state
 *   machine (`FdPassing.toByteStream`, and the side of a `Unix.listen`
 *   listener or `Unix.connect` client that meets a virtual socket); it
 *   pumps on every readiness check (`readiness.ts`);
 * - `ConnectionView`: another descriptor of a memory connection, adopted.
 */

/** A memory TCP or Unix stream connection (see `MemoryConnection`): it ends with its last descriptor. */
export class ConnectionObj extends Obj {
  constructor(readonly connection: MemoryConnection) {
    super()
  }
  release(): void {
    this.connection.terminate()
  }
}

/** A virtual stream socket pushed into core's state machine. */
export class AdoptedConnection implements RawConnection {
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
export class ConnectionView implements RawConnection {
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
