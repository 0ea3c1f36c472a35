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

/** The descriptor, from dgram's internal state (`_handle` is deprecated); `undefined` if that moves. */
const fdOf = (socket: dgram.Socket): number | undefined => {
  const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === "state symbol")
  const state =
    key === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: { fd?: unknown } }>)[key]
  return Driver.fdOf(state?.handle)
}

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

/** The addon's form of an address; `undefined` where only node:dgram knows the way (a named IPv6 zone). */
const anyAddress = (address: Ip): NativeDriver.AnyAddress | undefined =>
  address._tag === "Ipv4"
    ? { family: 4, host: address.host, port: address.port }
    : address.host.includes("%")
      ? undefined
      : { family: 6, host: address.host, port: address.port, scopeId: address.scopeId, flowInfo: address.flowInfo }

/**
 * A node:dgram socket. Receiving is node:dgram's; sending tries the
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
    const raw = new NodeUdpSocket(socket)
    if (remote !== undefined) {
      const r = socket.remoteAddress()
      raw.remoteAddress = ipAddress(r.address, r.port, r.family)
    }
    return raw
  })

/** @internal */
export const driver: Driver.UdpDriver = { bind, coalesceWakeups: true }
