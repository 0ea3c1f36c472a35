import { NetError, SocketAddress } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as native from "./native.ts"

type Ip = SocketAddress.Ipv4 | SocketAddress.Ipv6
type Errno = { readonly code: string; readonly syscall?: string | undefined; readonly cause: unknown }
type SendCallback = Parameters<Driver.RawUdpSocket["send"]>[2]

/**
 * `Bun.udpSocket`'s `flags` option (uSockets' listen flags). Not in Bun's
 * typings, but it is how Bun's own `node:dgram` asks for these options
 * (verified on Bun 1.4.5; the contract tests check they work).
 */
const LISTEN_REUSE_PORT = 4
const SOCKET_IPV6_ONLY = 8
const LISTEN_REUSE_ADDR = 16
const LISTEN_DISALLOW_REUSE_PORT_FAILURE = 32

/** The subset of `Bun.udp.Socket` / `ConnectedSocket` this driver uses. */
interface BunUdp {
  readonly address: { readonly address: string; readonly family: string; readonly port: number }
  readonly remoteAddress?: { readonly address: string; readonly family: string; readonly port: number }
  readonly fd?: number
  readonly closed: boolean
  send(data: Uint8Array, port?: number, address?: string): boolean
  close(): void
  setBroadcast(enabled: boolean): boolean
  setTTL(ttl: number): number
  setMulticastTTL(ttl: number): number
  setMulticastLoopback(enabled: boolean): boolean
  setMulticastInterface(address: string): boolean
  addMembership(group: string, iface?: string): boolean
  dropMembership(group: string, iface?: string): boolean
  addSourceSpecificMembership(source: string, group: string, iface?: string): boolean
  dropSourceSpecificMembership(source: string, group: string, iface?: string): boolean
}

declare const Bun: {
  udpSocket(options: Record<string, unknown>): Promise<BunUdp>
}

/** @internal */
export const ipAddress: (host: string, port: number, v6: boolean) => Ip = Driver.ipFromRuntime

/** Errors an ICMP message for an earlier datagram leaves pending on the socket. */
const STALE_ICMP = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "EPROTO"])
const MAX_STALE = 16

const errno = (error: unknown): Errno => Driver.errnoWithCause(error)

class BunUdpSocket implements Driver.RawUdpSocket {
  readonly localAddress: Ip
  readonly remoteAddress: Ip | undefined
  readonly fd: number | undefined
  /** Datagrams Bun's socket refused for now (`send` returned false), retried in order on drain. */
  private readonly waiting: Array<{ data: Uint8Array; address: Ip | undefined; callback: SendCallback }> = []
  private closed = false

  constructor(readonly socket: BunUdp) {
    const a = socket.address
    this.localAddress = ipAddress(a.address, a.port, a.family === "IPv6")
    const r = socket.remoteAddress
    this.remoteAddress = r === undefined ? undefined : ipAddress(r.address, r.port, r.family === "IPv6")
    this.fd = typeof socket.fd === "number" && socket.fd >= 0 ? socket.fd : undefined
  }

  /** One attempt: `true` when Bun took it or it failed (callback called), `false` to retry on drain. */
  private attempt(data: Uint8Array, address: Ip | undefined, callback: SendCallback): boolean {
    for (let stale = 0; ; stale++) {
      let accepted: boolean
      try {
        accepted =
          address === undefined
            ? this.socket.send(data)
            : this.socket.send(data, address.port, SocketAddress.runtimeHost(address))
      } catch (error) {
        // Bun sockets have IP_RECVERR on, so on an *unconnected* socket an ICMP
        // error for an earlier datagram (to another destination) is pending in
        // SO_ERROR and the kernel hands it to this send instead of sending.
        // It says nothing about this datagram: consume it and send again.
        const e = errno(error)
        if (address !== undefined && STALE_ICMP.has(e.code) && stale < MAX_STALE) continue
        callback(e)
        return true
      }
      if (accepted) callback(undefined)
      return accepted
    }
  }

  send(data: Uint8Array, address: Ip | undefined, callback: SendCallback): void {
    if (this.closed) {
      callback({ code: "EBADF", syscall: "send", cause: undefined })
      return
    }
    if (this.waiting.length > 0 || !this.attempt(data, address, callback))
      this.waiting.push({ data, address, callback })
  }

  onDrain(): void {
    while (this.waiting.length > 0 && !this.closed) {
      const next = this.waiting[0] as (typeof this.waiting)[number]
      if (!this.attempt(next.data, next.address, next.callback)) return
      this.waiting.shift()
    }
  }

  setOption(option: Driver.UdpOption): NetError.OperationFailed | NetError.Unsupported | undefined {
    return Driver.applyOption(this.socket, option, this.localAddress)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    const waiting = this.waiting.splice(0)
    try {
      this.socket.close()
    } catch {
      // already closed
    }
    for (const w of waiting) w.callback({ code: "ECANCELED", syscall: "send", cause: undefined })
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
    // Bun.udpSocket cannot set socket buffer sizes; the addon sets them on its descriptor
    const sizes = [
      ["SO_RCVBUF", request.receiveBufferSize],
      ["SO_SNDBUF", request.sendBufferSize],
    ] as const
    const wantsSizes = sizes.some(([, size]) => size !== undefined)
    const binding = wantsSizes ? native.addon().binding : undefined
    if (wantsSizes && binding === undefined) {
      return yield* Effect.fail(
        new NetError.Unsupported({
          feature: "receiveBufferSize / sendBufferSize (SO_RCVBUF / SO_SNDBUF) for UDP sockets",
          runtime: `bun ${process.versions.bun ?? ""}`.trim(),
          reason: `Bun.udpSocket cannot set socket buffer sizes and the @netfx/native addon that does is not available (${native.addon().loadError ?? "not loaded"})`,
        }),
      )
    }
    const { address, handlers } = request
    const remote = request.connect
    let raw: BunUdpSocket | undefined
    const senderOf = Driver.ipFromRuntimeCached()
    const flags =
      (request.reusePort ? LISTEN_REUSE_PORT | LISTEN_DISALLOW_REUSE_PORT_FAILURE : 0) |
      (address._tag === "Ipv6" && request.ipv6Only ? SOCKET_IPV6_ONLY : 0) |
      (request.reuseAddress ? LISTEN_REUSE_ADDR : 0)
    const options: Record<string, unknown> = {
      hostname: SocketAddress.runtimeHost(address),
      port: address.port,
      flags,
      socket: {
        data: (_socket: BunUdp, data: Uint8Array, port: number, host: string, info?: { readonly ipv6?: boolean }) =>
          handlers.onMessage(data, senderOf(host, port, info?.ipv6 === true)),
        drain: () => raw?.onDrain(),
        // Bun 1.4 calls `error(err)` with the socket as `this` (its typings say `(socket, err)`).
        error: (...args: ReadonlyArray<unknown>) => {
          const error = args.find((a) => a instanceof Error) ?? args[args.length - 1]
          // Errors from the error queue (IP_RECVERR) on an unconnected socket concern
          // some earlier destination; BSD sockets and Node do not report them. Skip them.
          if (remote === undefined && (error as { errqueue?: unknown } | undefined)?.errqueue === true) return
          handlers.onError(errno(error))
        },
      },
    }
    if (remote !== undefined) options.connect = { hostname: SocketAddress.runtimeHost(remote), port: remote.port }
    const socket = yield* Effect.acquireRelease(
      Effect.async<BunUdp, NetError.ListenFailed | NetError.ConnectFailed>((resume) => {
        let cancelled = false
        const fail = (error: unknown) => {
          if (cancelled) return
          const { code, syscall } = NetError.errnoOf(error)
          if (remote !== undefined && syscall === "connect")
            resume(
              Effect.fail(
                new NetError.ConnectFailed({
                  host: remote.host,
                  port: remote.port,
                  attempts: [{ address: remote, code, syscall, cause: error }],
                }),
              ),
            )
          else resume(Effect.fail(new NetError.ListenFailed({ address, code, syscall, cause: error })))
        }
        // Bun 1.4 throws bind errors (EADDRINUSE) synchronously and may also reject.
        try {
          Bun.udpSocket(options).then((s) => {
            if (cancelled) s.close()
            else resume(Effect.succeed(s))
          }, fail)
        } catch (error) {
          fail(error)
        }
        return Effect.sync(() => {
          cancelled = true
        })
      }),
      (s) =>
        Effect.sync(() => {
          if (raw !== undefined) raw.close()
          else if (!s.closed) s.close()
        }),
    )
    if (binding !== undefined) {
      const c = binding.constants
      for (const [name, size] of sizes) {
        if (size === undefined) continue
        const r =
          socket.fd === undefined ? -9 : binding.setsockopt(socket.fd, c.SOL_SOCKET as number, c[name] as number, size)
        if (r < 0)
          return yield* Effect.fail(
            new NetError.ListenFailed({
              address: request.address,
              code: native.addon().errnoName(r),
              syscall: "setsockopt",
            }),
          )
      }
    }
    raw = new BunUdpSocket(socket)
    return raw
  })

/** @internal */
export const driver: Driver.UdpDriver = { bind, coalesceWakeups: true }
