/**
 * The low-level socket layer, in the manner of Trio's `trio.socket`: plain
 * sockets of any family (IPv4, IPv6, Unix) and type (stream, datagram)
 * with the system calls as Effects — `bind`, `connect`, `listen`,
 * `accept`, `send`/`receive`, `sendTo`/`receiveFrom`, `sendMsg`/
 * `receiveMsg` (with descriptors over Unix sockets), `shutdown`, socket
 * options, `isReadable` — for what the high-level modules (`Tcp`, `Udp`,
 * `Unix`, `UnixDatagram`, `FdPassing`) do not cover. Built on the
 * `@netfx/native` addon, so on Node and Bun alike; on the memory network
 * (its virtual kernel) Unix sockets work and IP families fail with
 * `OperationFailed` `EAFNOSUPPORT`.
 *
 * As in Trio, every call that would block waits for readiness instead
 * (the socket is always non-blocking underneath), and interruption is
 * how you cancel. Unlike the C API, end of stream is `EndOfStream`, not
 * an empty read (an empty datagram is data). Every other system call
 * error is `OperationFailed` with the errno `code`; the socket stays
 * usable unless the call says otherwise.
 *
 * @example
 * ```ts
 * import { RawSocket, SocketAddress } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * // a UDP echo with plain sockets
 * const program = Effect.gen(function* () {
 *   const server = yield* RawSocket.socket({ family: "ipv4", type: "dgram" })
 *   yield* server.bind(SocketAddress.ipv4("127.0.0.1", 0))
 *   const client = yield* RawSocket.socket({ family: "ipv4", type: "dgram" })
 *   yield* client.sendTo(new TextEncoder().encode("ping"), yield* server.localAddress)
 *   const { data, address } = yield* server.receiveFrom()
 *   if (address !== undefined) yield* server.sendTo(data, address)
 *   return new TextDecoder().decode(yield* client.receive()) // "ping"
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Datagram from "./Datagram.ts"
import * as internal from "./internal/rawSocket.ts"
import type {
  BusyResource,
  ClosedResource,
  ConnectFailed,
  EndOfStream,
  InvalidArgument,
  OperationFailed,
  Unsupported,
} from "./NetError.ts"
import type * as Network from "./Network.ts"
import type * as SocketAddress from "./SocketAddress.ts"

/**
 * The address family of a socket.
 *
 * @example
 * ```ts
 * import { RawSocket } from "@netfx/core"
 *
 * const family: RawSocket.Family = "ipv6"
 * const udp6 = RawSocket.socket({ family, type: "dgram" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Family = "ipv4" | "ipv6" | "unix"

/**
 * The socket type: a byte stream (`SOCK_STREAM`) or datagrams (`SOCK_DGRAM`).
 *
 * @example
 * ```ts
 * import { RawSocket } from "@netfx/core"
 *
 * const type: RawSocket.Type = "stream"
 * const tcp = RawSocket.socket({ family: "ipv4", type })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Type = "stream" | "dgram"

/**
 * Which direction `shutdown` closes.
 *
 * @example
 * ```ts
 * import type { RawSocket } from "@netfx/core"
 *
 * const halfClose = (socket: RawSocket.RawSocket) => socket.shutdown("write" satisfies RawSocket.ShutdownHow)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ShutdownHow = "read" | "write" | "both"

/**
 * One `receiveMsg`: the data, the descriptors that came with it (yours to
 * close), and the truncation flags (`MSG_CTRUNC`: descriptors beyond
 * `maxFds` were closed by the kernel; `MSG_TRUNC`: a datagram was longer
 * than `maxBytes`).
 *
 * @example
 * ```ts
 * import type { RawSocket } from "@netfx/core"
 * import * as fs from "node:fs"
 *
 * const closeAll = (m: RawSocket.ReceivedMessage) => {
 *   for (const fd of m.fds) fs.closeSync(fd)
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedMessage {
  readonly data: Uint8Array
  readonly fds: ReadonlyArray<number>
  readonly fdsTruncated: boolean
  readonly dataTruncated: boolean
}

/**
 * A low-level socket. Obtained from {@link socket}, {@link socketpair},
 * {@link fromFd} or `accept`; closed when its Scope closes (or by `close`).
 *
 * **Errors** of every method: `ClosedResource` after `close`;
 * `OperationFailed` with the errno for a failing system call (the socket
 * stays usable); `InvalidArgument` for an address of another family or a
 * bad size. **Interruption**: every wait (for readiness) is interruptible
 * and loses nothing, except `connect` (see there).
 *
 * @example
 * ```ts
 * import { type RawSocket, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const serveOnce = (listener: RawSocket.RawSocket) =>
 *   Effect.scoped(
 *     Effect.gen(function* () {
 *       const { socket } = yield* listener.accept
 *       const request = yield* socket.receive()
 *       yield* socket.send(request)
 *       yield* socket.shutdown("write")
 *     }),
 *   )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RawSocket {
  /** The descriptor (owned by netfx until the socket closes). */
  readonly fd: number
  readonly family: Family
  readonly type: Type
  /** Whether `shutdown("write")` or `shutdown("both")` ran (Trio's `did_shutdown_SHUT_WR`). */
  readonly didShutdownWrite: boolean
  /**
   * getsockname(2), asked each time it runs. Unlike every other socket
   * type's `localAddress` member, this is an Effect: a raw socket's
   * addresses change under you (unbound, then bound by `bind`, then given
   * an ephemeral port by `connect`), and asking can fail (the socket
   * closed). A stored value would be stale; an Effect says "ask the kernel
   * now", as Trio's `getsockname()` does.
   */
  readonly localAddress: Effect.Effect<SocketAddress.SocketAddress, OperationFailed | ClosedResource>
  /**
   * getpeername(2), asked each time it runs (an Effect for the reasons of
   * `localAddress`); `OperationFailed` `ENOTCONN` when not connected.
   */
  readonly remoteAddress: Effect.Effect<SocketAddress.SocketAddress, OperationFailed | ClosedResource>
  /** bind(2) (`EADDRINUSE`, `EACCES`, ... as `OperationFailed`). */
  bind(address: SocketAddress.SocketAddress): Effect.Effect<void, OperationFailed | ClosedResource | InvalidArgument>
  /**
   * connect(2), waiting for the handshake (a Unix connect to a listener
   * with a full backlog retries until it has room).
   *
   * **Errors**: `ConnectFailed` with the errno (`ECONNREFUSED`,
   * `ETIMEDOUT`, `ENOENT`, ...).
   *
   * **Interruption**: the socket is closed — a half-made connection cannot
   * be taken back (as in Trio).
   */
  connect(address: SocketAddress.SocketAddress): Effect.Effect<void, ConnectFailed | ClosedResource | InvalidArgument>
  /** listen(2); default backlog 511. */
  listen(backlog?: number): Effect.Effect<void, OperationFailed | ClosedResource | InvalidArgument>
  /**
   * accept(2): the next connection, in the caller's Scope, and its peer.
   * `BusyResource` while another fiber accepts. Interruption loses no
   * connection (it stays queued in the kernel).
   */
  readonly accept: Effect.Effect<
    { readonly socket: RawSocket; readonly address: SocketAddress.SocketAddress },
    OperationFailed | ClosedResource | BusyResource,
    Scope.Scope
  >
  /** send(2) on a connected socket, waiting until some bytes fit; the count sent (may be fewer than given). */
  send(data: Uint8Array): Effect.Effect<number, OperationFailed | ClosedResource | InvalidArgument>
  /** sendto(2): one datagram (or bytes) to `to`; the count sent. */
  sendTo(
    data: Uint8Array,
    to: SocketAddress.SocketAddress,
  ): Effect.Effect<number, OperationFailed | ClosedResource | InvalidArgument>
  /**
   * recv(2): up to `maxBytes` (default 65536), waiting for data. On a
   * stream, end of stream fails with `EndOfStream` (every time); a
   * datagram may be empty. `BusyResource` while another fiber receives.
   */
  receive(
    maxBytes?: number,
  ): Effect.Effect<Uint8Array, EndOfStream | OperationFailed | ClosedResource | BusyResource | InvalidArgument>
  /**
   * recvfrom(2): as `receive`, with the sender's address (`undefined` where
   * the system reports none, e.g. a connected stream) and the truncation
   * flag — the received-datagram type every datagram socket shares.
   */
  receiveFrom(
    maxBytes?: number,
  ): Effect.Effect<
    Datagram.ReceivedDatagram<SocketAddress.SocketAddress | undefined>,
    EndOfStream | OperationFailed | ClosedResource | BusyResource | InvalidArgument
  >
  /**
   * sendmsg(2) on a connected socket, with `fds` attached (`SCM_RIGHTS`;
   * Unix sockets only, at most 253); the count of bytes sent. The
   * descriptors stay open here.
   */
  sendMsg(
    data: Uint8Array,
    fds: ReadonlyArray<number>,
  ): Effect.Effect<number, OperationFailed | ClosedResource | InvalidArgument>
  /**
   * recvmsg(2): up to `maxBytes` and up to `maxFds` descriptors (yours to
   * close). Interruption before data arrived receives nothing; once the
   * call ran, the descriptors are returned.
   */
  receiveMsg(
    maxBytes: number,
    maxFds: number,
  ): Effect.Effect<ReceivedMessage, EndOfStream | OperationFailed | ClosedResource | BusyResource | InvalidArgument>
  /** shutdown(2). */
  shutdown(how: ShutdownHow): Effect.Effect<void, OperationFailed | ClosedResource>
  /** Whether a read would not block now (data, end of stream or an error waiting): Trio's `is_readable`. */
  readonly isReadable: Effect.Effect<boolean, OperationFailed | ClosedResource>
  /** getsockopt(2) of an integer option (see {@link constants}). */
  getOption(level: number, name: number): Effect.Effect<number, OperationFailed | ClosedResource>
  /** setsockopt(2) of an integer option. */
  setOption(level: number, name: number, value: number): Effect.Effect<void, OperationFailed | ClosedResource>
  /** Closes the socket now; pending waits fail with `ClosedResource`. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * Socket option levels and names for `getOption`/`setOption` (Linux
 * values, the platform the native layer runs on).
 *
 * @example
 * ```ts
 * import { RawSocket } from "@netfx/core"
 *
 * const reuse = (socket: RawSocket.RawSocket) =>
 *   socket.setOption(RawSocket.constants.SOL_SOCKET, RawSocket.constants.SO_REUSEADDR, 1)
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const constants = {
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_TYPE: 3,
  SO_ERROR: 4,
  SO_BROADCAST: 6,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_KEEPALIVE: 9,
  SO_REUSEPORT: 15,
  SO_ACCEPTCONN: 30,
  SO_DOMAIN: 39,
  IPPROTO_IP: 0,
  IP_TTL: 2,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  IPPROTO_IPV6: 41,
  IPV6_V6ONLY: 26,
} as const

/**
 * A new socket (Trio's `socket(family, type)`), closed with the Scope.
 *
 * **Resource**: one descriptor, released when the Scope closes.
 *
 * **Errors**: `InvalidArgument` for an unknown family or type;
 * `OperationFailed` when socket(2) fails (`EMFILE`, `EAFNOSUPPORT` — IP
 * families on the memory network); `Unsupported` without the native addon
 * (the reason names the fix).
 *
 * **Interruption**: not interruptible (it does not wait).
 *
 * @example
 * ```ts
 * import { RawSocket, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const listener = Effect.gen(function* () {
 *   const s = yield* RawSocket.socket({ family: "ipv6", type: "stream" })
 *   yield* s.setOption(RawSocket.constants.IPPROTO_IPV6, RawSocket.constants.IPV6_V6ONLY, 1)
 *   yield* s.bind(SocketAddress.ipv6("::1", 0))
 *   yield* s.listen()
 *   return s
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const socket: (options: {
  readonly family: Family
  readonly type: Type
}) => Effect.Effect<RawSocket, Unsupported | OperationFailed | InvalidArgument, Scope.Scope | Network.Network> =
  internal.socket

/**
 * A connected pair of Unix sockets (Trio's `socketpair()`), closed with the Scope.
 *
 * **Resource**: two descriptors. **Errors**: as {@link socket}.
 * **Interruption**: not interruptible.
 *
 * @example
 * ```ts
 * import { RawSocket } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const roundTrip = Effect.gen(function* () {
 *   const [a, b] = yield* RawSocket.socketpair("stream")
 *   yield* a.send(new TextEncoder().encode("hi"))
 *   return new TextDecoder().decode(yield* b.receive())
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const socketpair = (
  type: Type = "stream",
): Effect.Effect<
  readonly [RawSocket, RawSocket],
  Unsupported | OperationFailed | InvalidArgument,
  Scope.Scope | Network.Network
> => internal.socketpair(type)

/**
 * Takes ownership of an open socket descriptor (Trio's `fromfd`, without
 * the dup): its family and type are read from the kernel (`SO_DOMAIN`,
 * `SO_TYPE`), it is made non-blocking, and it closes with the Scope.
 *
 * **Resource**: the descriptor, from now on. **Errors**: `InvalidArgument`
 * for a negative number or a socket that is not IPv4/IPv6/Unix stream or
 * datagram; `OperationFailed` (`EBADF`, `ENOTSOCK`) for something that is
 * not an open socket; `Unsupported` as for {@link socket}.
 *
 * @example
 * ```ts
 * import { FdPassing, RawSocket } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // a socket another process passed over a Unix socket
 * const adopt = (message: FdPassing.ReceivedMessage) =>
 *   Effect.flatMap((message.fds[0] as FdPassing.ReceivedFd).take, RawSocket.fromFd)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFd: (
  fd: number,
) => Effect.Effect<RawSocket, Unsupported | OperationFailed | InvalidArgument, Scope.Scope | Network.Network> =
  internal.fromFd
