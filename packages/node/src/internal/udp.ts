import * as dgram from "node:dgram"
import { NetError, SocketAddress } from "@netfx/core"
import type { NativeDriver } from "@netfx/core/Driver"
import * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as native from "./native.ts"

/** SO_REUSEPORT for dgram arrived in Node 22.12 / 23.1 (`reusePort` of `createSocket`). */
const hasReusePort = Driver.nodeHasReusePort(process.versions.node)

type Ip = SocketAddress.Ipv4 | SocketAddress.Ipv6

/** @internal */
export const ipAddress: (host: string, port: number, family?: string | number) => Ip = Driver.ipFromRuntime

/** dgram's libuv handle, from its internal state (`_handle` is deprecated); `undefined` if that moves. */
const handleOf = (socket: dgram.Socket): DgramHandle | undefined => {
  const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === "state symbol")
  return key === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: DgramHandle }>)[key]?.handle
}

/** The part of node:dgram's handle (a UDPWrap) this driver uses. */
interface DgramHandle {
  readonly fd?: unknown
  readonly recvStart?: () => number
  readonly recvStop?: () => number
}

/** The descriptor, or `undefined` when dgram's state moved. */
const fdOf = (socket: dgram.Socket): number | undefined => Driver.fdOf(handleOf(socket))

const errno = Driver.errnoWithCause

/** EAGAIN (= EWOULDBLOCK on Linux and macOS): the send buffer is full; node:dgram then queues and waits. */
const EAGAIN_NAME = "EAGAIN"

/**
 * A send straight on the descriptor: the addon's `sendtoAny` (bytes sent or
 * -errno) and its errno names.
 *
 * @internal
 */
export interface DirectSend {
  readonly send: (fd: number, data: Uint8Array, address: NativeDriver.AnyAddress | null) => number
  readonly errnoName: (n: number) => string
}

/** The addon's {@link DirectSend}, when the addon is built (it loads with the first socket). */
const directSend = (): DirectSend | undefined => {
  const a = native.addon()
  const send = a.binding?.sendtoAny
  return send === undefined ? undefined : { send: send.bind(a.binding), errnoName: a.errnoName }
}

/** Datagrams per batch of the addon's receive (its UDP_BATCH). */
const RECV_BATCH = 64
/**
 * A datagram up to this size is a view of its batch's buffer; a larger one
 * is copied out, so keeping it does not keep the batch alive (a kept small
 * datagram keeps at most 64 × 2 KiB).
 */
const SHARE_MAX = 2048

/**
 * Receiving through the addon rather than node:dgram: node:dgram reads one
 * datagram per `recvmsg` and calls into JS for each (a Buffer and an rinfo
 * object each, and a microtask checkpoint); the addon reads up to 64 per
 * `recvmmsg` on a duplicate of the descriptor (libuv allows one watcher per
 * descriptor number) and calls into JS once per batch, with the senders
 * only where they change. node:dgram's own receiving is stopped
 * (`recvStop`) in the same turn the addon's starts, so no datagram is read
 * twice or out of order; the socket stays node:dgram's for sending,
 * options, multicast and closing.
 *
 * @internal
 */
export class NativeReceiver {
  private handle: object | undefined = undefined
  private last: Ip | undefined = undefined
  private readonly meta = new Int32Array(2 * RECV_BATCH)
  private readonly senderOf = Driver.ipFromRuntimeCached()
  private constructor(
    private readonly binding: NativeDriver.NativeBinding,
    private readonly errnoName: (n: number) => string,
    private readonly handlers: Driver.UdpHandlers,
  ) {}

  /**
   * Moves `socket`'s receiving to the addon; `undefined` (node:dgram keeps
   * receiving) without the addon, its batched receive or dgram's handle.
   */
  static start(socket: dgram.Socket, handlers: Driver.UdpHandlers): NativeReceiver | undefined {
    const a = native.addon()
    const b = a.binding
    const handle = handleOf(socket)
    const fd = Driver.fdOf(handle)
    if (b?.udpRecvStart === undefined || b.udpRecvStop === undefined || fd === undefined) return undefined
    if (typeof handle?.recvStop !== "function" || typeof handle.recvStart !== "function") return undefined
    const receiver = new NativeReceiver(b, a.errnoName, handlers)
    if (handle.recvStop() !== 0) return undefined
    const h = b.udpRecvStart(fd, receiver.onBatch, receiver.meta)
    if (typeof h === "number") {
      handle.recvStart()
      return undefined
    }
    receiver.handle = h
    return receiver
  }

  private readonly onBatch = (
    data: Uint8Array | null,
    count: number,
    senders: ReadonlyArray<string | number> | undefined,
    error: number,
  ): void => {
    const handlers = this.handlers
    if (data === null) {
      // what node:dgram reports for a failed recvmsg (an ICMP error on a connected socket)
      const code = this.errnoName(error)
      handlers.onError(errno(Object.assign(new Error(`recvmsg ${code}`), { code, errno: error, syscall: "recvmsg" })))
      return
    }
    const meta = this.meta
    let at = 0
    for (let i = 0; i < count; i++) {
      const length = meta[i] as number
      const s = meta[RECV_BATCH + i] as number
      if (s >= 0 && senders !== undefined)
        this.last = this.senderOf(senders[3 * s] as string, senders[3 * s + 1] as number, senders[3 * s + 2])
      const d = length > SHARE_MAX ? Buffer.copyBytesFrom(data, at, length) : data.subarray(at, at + length)
      at += length
      handlers.onMessage(d, this.last as Ip)
    }
  }

  stop(): void {
    const h = this.handle
    if (h === undefined) return
    this.handle = undefined
    this.binding.udpRecvStop?.(h)
  }
}

/** The addon's form of an address; `undefined` where only node:dgram knows the way (a named IPv6 zone). */
const anyAddress = (address: Ip): NativeDriver.AnyAddress | undefined =>
  address._tag === "Ipv4"
    ? { family: 4, host: address.host, port: address.port }
    : address.host.includes("%")
      ? undefined
      : { family: 6, host: address.host, port: address.port, scopeId: address.scopeId, flowInfo: address.flowInfo }

/**
 * A node:dgram socket. Receiving is the addon's in batches when it is
 * there ({@link NativeReceiver}), else node:dgram's; sending tries the
 * descriptor first when the @netfx/native addon is there: a non-blocking
 * `send`/`sendto` completes (or fails with its errno) at once, so a send
 * costs no fiber suspension, where node:dgram reports even a datagram it
 * sent at once on the next tick. When the kernel says "not now" (EAGAIN),
 * or without the addon or descriptor, the datagram goes through
 * `socket.send`, which queues it and calls back when it went; while such
 * sends are in flight, later ones queue behind them so datagrams leave in
 * order.
 *
 * @internal
 */
export class NodeUdpSocket implements Driver.RawUdpSocket {
  readonly localAddress: Ip
  remoteAddress: Ip | undefined = undefined
  readonly fd: number | undefined
  private closed = false
  /** node:dgram sends not called back yet. */
  private queued = 0
  /** The last destination and its addon form (a server mostly answers the peer it just heard). */
  private lastTo: Ip | undefined = undefined
  private lastAny: NativeDriver.AnyAddress | undefined = undefined
  constructor(
    readonly socket: dgram.Socket,
    private readonly direct: DirectSend | undefined = directSend(),
    private readonly receiver: NativeReceiver | undefined = undefined,
  ) {
    const a = socket.address()
    this.localAddress = ipAddress(a.address, a.port, a.family)
    this.fd = fdOf(socket)
  }
  send(data: Uint8Array, address: Ip | undefined, callback: Parameters<Driver.RawUdpSocket["send"]>[2]): void {
    const direct = this.direct
    if (direct !== undefined && this.queued === 0 && this.fd !== undefined && !this.closed) {
      let target: NativeDriver.AnyAddress | null | undefined = null
      if (address !== undefined) {
        if (address !== this.lastTo) {
          this.lastTo = address
          this.lastAny = anyAddress(address)
        }
        target = this.lastAny
      }
      if (target !== undefined) {
        const r = direct.send(this.fd, data, target)
        if (r >= 0) {
          callback(undefined)
          return
        }
        const code = direct.errnoName(r)
        if (code !== EAGAIN_NAME) {
          const where = address === undefined ? "" : ` ${SocketAddress.format(address)}`
          const cause = Object.assign(new Error(`send ${code}${where}`), { code, errno: r, syscall: "send" })
          callback({ code, syscall: "send", cause })
          return
        }
      }
    }
    this.queued++
    const done = (error: Error | null) => {
      this.queued--
      callback(error ? errno(error) : undefined)
    }
    try {
      if (address === undefined) this.socket.send(data, done)
      else this.socket.send(data, address.port, SocketAddress.runtimeHost(address), done)
    } catch (error) {
      this.queued--
      queueMicrotask(() => callback(errno(error)))
    }
  }
  setOption(option: Driver.UdpOption): NetError.OperationFailed | NetError.Unsupported | undefined {
    return Driver.applyOption(this.socket, option, this.localAddress)
  }
  close(): void {
    if (this.closed) return
    this.closed = true
    this.receiver?.stop()
    try {
      this.socket.close()
    } catch {
      // already closed
    }
  }
}

/** @internal */
export const bind = (
  request: Driver.UdpBindRequest,
): Effect.Effect<
  Driver.RawUdpSocket,
  NetError.ListenFailed | NetError.ConnectFailed | NetError.Unsupported,
  Scope.Scope
> =>
  Effect.gen(function* () {
    // node:dgram sets SO_REUSEPORT from Node 22.12 on; before, the addon
    // opens and binds the socket and node:dgram adopts the descriptor
    const adopted =
      request.reusePort && !hasReusePort
        ? native.reusePortSocket(request.address, "dgram", {
            ipv6Only: request.address._tag === "Ipv6" && request.ipv6Only,
            reuseAddress: request.reuseAddress,
          })
        : undefined
    if (request.reusePort && !hasReusePort && adopted === undefined) {
      return yield* Effect.fail(
        new NetError.Unsupported({
          feature: "reusePort (SO_REUSEPORT) for UDP sockets",
          runtime: `node ${process.versions.node}`,
          reason: `node:dgram supports reusePort from Node 22.12 / 23.1, and the @netfx/native addon that does it on older Node is not available (${native.addon().loadError ?? "no IP socket support"}); upgrade Node, build the addon or use BunNetwork`,
        }),
      )
    }
    if (adopted !== undefined && "code" in adopted)
      return yield* Effect.fail(
        new NetError.ListenFailed({ address: request.address, code: adopted.code, syscall: "bind" }),
      )
    const { address, handlers } = request
    // One 'error' listener for the socket's whole life: it fails bind, then
    // connect, and afterwards reports asynchronous errors (ICMP on a
    // connected socket) to core. A dgram socket without one would throw.
    let phase: ((error: Error) => void) | undefined
    const socket = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const options: dgram.SocketOptions & { reusePort?: boolean } = {
          type: address._tag === "Ipv6" ? "udp6" : "udp4",
          reuseAddr: request.reuseAddress,
          ipv6Only: address._tag === "Ipv6" && request.ipv6Only,
        }
        if (request.reusePort && hasReusePort) options.reusePort = true
        if (request.receiveBufferSize !== undefined) options.recvBufferSize = request.receiveBufferSize
        if (request.sendBufferSize !== undefined) options.sendBufferSize = request.sendBufferSize
        const s = dgram.createSocket(options)
        const senderOf = Driver.ipFromRuntimeCached()
        s.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) =>
          handlers.onMessage(msg, senderOf(rinfo.address, rinfo.port, rinfo.family)),
        )
        s.on("error", (error: Error) => {
          if (phase !== undefined) phase(error)
          else handlers.onError(errno(error))
        })
        return s
      }),
      (s) =>
        Effect.sync(() => {
          try {
            s.close()
          } catch {
            // already closed
          }
        }),
    )
    yield* Effect.async<void, NetError.ListenFailed>((resume) => {
      const onListening = () => {
        phase = undefined
        resume(Effect.void)
      }
      phase = (error) => {
        phase = undefined
        socket.off("listening", onListening)
        const { code, syscall } = NetError.errnoOf(error)
        resume(Effect.fail(new NetError.ListenFailed({ address, code, syscall, cause: error })))
      }
      socket.once("listening", onListening)
      try {
        if (adopted !== undefined) socket.bind({ fd: adopted.fd, exclusive: true })
        else socket.bind({ address: SocketAddress.runtimeHost(address), port: address.port, exclusive: true })
      } catch (error) {
        phase(error as Error)
      }
      return Effect.sync(() => {
        phase = undefined
        socket.off("listening", onListening)
      })
    })
    const remote = request.connect
    if (remote !== undefined) {
      yield* Effect.async<void, NetError.ConnectFailed>((resume) => {
        const fail = (error: Error) => {
          phase = undefined
          const { code, syscall } = NetError.errnoOf(error)
          resume(
            Effect.fail(
              new NetError.ConnectFailed({
                host: remote.host,
                port: remote.port,
                attempts: [{ address: remote, code, syscall, cause: error }],
              }),
            ),
          )
        }
        phase = fail
        try {
          socket.connect(remote.port, SocketAddress.runtimeHost(remote), () => {
            phase = undefined
            resume(Effect.void)
          })
        } catch (error) {
          fail(error as Error)
        }
        return Effect.sync(() => {
          phase = undefined
        })
      })
    }
    // from here on the addon receives (when it can), until the socket closes
    const receiver = yield* Effect.acquireRelease(
      Effect.sync(() => NativeReceiver.start(socket, handlers)),
      (r) => Effect.sync(() => r?.stop()),
    )
    const raw = new NodeUdpSocket(socket, directSend(), receiver)
    if (remote !== undefined) {
      const r = socket.remoteAddress()
      raw.remoteAddress = ipAddress(r.address, r.port, r.family)
    }
    return raw
  })

/** @internal */
export const driver: Driver.UdpDriver = { bind, coalesceWakeups: true }
