/**
 * Unix datagram sockets (`AF_UNIX`, `SOCK_DGRAM`): packets between local
 * processes, addressed by file system paths or abstract names. Built on the
 * `@netfx/native` addon (Node and Bun have no Unix datagram sockets).
 *
 * Sending never drops and never spins: Linux queues only
 * `net.unix.max_dgram_qlen` datagrams (10 on many machines) at a receiver,
 * so a non-blocking send soon meets `EAGAIN`. A connected socket then waits
 * for write readiness (the kernel signals it when the peer's queue drains).
 * An unconnected `sendTo` gets no readiness signal from Linux for a full
 * peer queue, so netfx hands that one datagram to a worker thread doing a
 * blocking `sendto`, which the kernel wakes when there is room.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as nativeDatagram from "./internal/nativeDatagram.ts"
import * as validate from "./internal/validate.ts"
import type {
  BrokenResource,
  BusyResource,
  ClosedResource,
  ConnectFailed,
  InvalidArgument,
  ListenFailed,
  Unsupported,
} from "./NetError.ts"
import type * as Network from "./Network.ts"
import type * as SocketAddress from "./SocketAddress.ts"
import type { UnixAddressInput } from "./Unix.ts"

/**
 * One received datagram and its sender (`UnixPath("")` when the sender is
 * unnamed). `truncated` is true when it was longer than `maxBytes` and the
 * rest was discarded by the kernel.
 *
 * @example
 * ```ts
 * import { SocketAddress, type UnixDatagram } from "@netfx/core"
 *
 * const describe = (p: UnixDatagram.Packet): string =>
 *   `${p.data.length} bytes from ${SocketAddress.format(p.address)}${p.truncated ? " (truncated)" : ""}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Packet {
  readonly data: Uint8Array
  readonly address: SocketAddress.UnixPath | SocketAddress.UnixAbstract
  readonly truncated: boolean
}

/**
 * A Unix datagram socket.
 *
 * **Resource**: open from `bind`/`connect` until its Scope closes or
 * `close` runs; a bound path is removed on close unless `removeOnClose: false`.
 *
 * **Errors** and **Interruption**: see each member.
 *
 * @example
 * ```ts
 * import type { UnixDatagram } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // answer one datagram with its own bytes
 * const echoOnce = (socket: UnixDatagram.UnixDatagramSocket) =>
 *   Effect.gen(function* () {
 *     const { data, address } = yield* socket.receive(2048)
 *     yield* socket.sendTo(data, address)
 *   })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface UnixDatagramSocket {
  /** The local address (`UnixPath("")` when unnamed). */
  readonly address: SocketAddress.UnixPath | SocketAddress.UnixAbstract
  /** The peer for a connected socket. */
  readonly remoteAddress: SocketAddress.UnixPath | SocketAddress.UnixAbstract | undefined
  readonly fd: number
  /**
   * Waits for the next datagram.
   *
   * **Errors**: `ClosedResource` after `close`; `BusyResource` when another
   * fiber receives; `InvalidArgument` for a bad `maxBytes`; `BrokenResource`
   * with the errno for a failing socket.
   *
   * **Interruption**: no datagram is lost (it stays queued in the kernel).
   */
  receive(maxBytes?: number): Effect.Effect<Packet, ClosedResource | BusyResource | BrokenResource | InvalidArgument>
  /**
   * Sends one datagram to `to`, waiting while the receiver's queue is full.
   * Concurrent sends are queued in call order.
   *
   * **Errors**: `BrokenResource` with `code` `EMSGSIZE` (larger than the
   * socket buffer), `ECONNREFUSED` (a socket file nobody has bound),
   * `ENOENT` (no such path), `EACCES`, ... — it concerns that datagram only,
   * the socket stays usable; `InvalidArgument` for a bad address or an
   * empty datagram; `ClosedResource` after `close`.
   *
   * **Interruption**: the datagram may or may not have been sent.
   */
  sendTo(data: Uint8Array, to: UnixAddressInput): Effect.Effect<void, ClosedResource | BrokenResource | InvalidArgument>
  /**
   * Sends to the connected peer (fails with `InvalidArgument` on an
   * unconnected socket). Same errors and interruption as `sendTo`.
   */
  send(data: Uint8Array): Effect.Effect<void, ClosedResource | BrokenResource | InvalidArgument>
  /** Closes the socket now and wakes pending operations with `ClosedResource`. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * Options of {@link bind}.
 *
 * @example
 * ```ts
 * import { UnixDatagram } from "@netfx/core"
 *
 * const options: UnixDatagram.BindOptions = { path: "/tmp/app.dgram", mode: 0o600 }
 * const socket = UnixDatagram.bind(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface BindOptions {
  /** Where to bind; omitted = an unnamed socket (it can send but cannot be replied to). */
  readonly path?: UnixAddressInput
  /** Permission bits for the socket file (paths only). */
  readonly mode?: number
  /** Remove the socket file when the socket closes (default `true`). */
  readonly removeOnClose?: boolean
}

/**
 * Opens a Unix datagram socket, bound to `path` or unnamed.
 *
 * A stale socket file at the path (nobody bound to it) is replaced; a path
 * another live socket holds fails with `ListenFailed` (`EADDRINUSE`); a
 * regular file or directory fails and is left untouched.
 *
 * **Resource**: the socket belongs to the current Scope.
 *
 * **Errors**: `ListenFailed` (bind errno); `InvalidArgument`; `Unsupported`
 * when the runtime has no native addon (the reason names the fix).
 *
 * **Interruption**: closes the socket.
 *
 * @example
 * ```ts
 * import { UnixDatagram } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * // the "Hello, " service
 * const service = Effect.gen(function* () {
 *   const socket = yield* UnixDatagram.bind({ path: "/tmp/mysock" })
 *   while (true) {
 *     const { data, address } = yield* socket.receive()
 *     yield* socket.sendTo(new Uint8Array([...new TextEncoder().encode("Hello, "), ...data]), address)
 *   }
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const bind = (
  options: BindOptions = {},
): Effect.Effect<UnixDatagramSocket, ListenFailed | InvalidArgument | Unsupported, Scope.Scope | Network.Network> =>
  Effect.catchTag(nativeDatagram.open(options, undefined), "ConnectFailed", Effect.die)

/**
 * Options of {@link connect}.
 *
 * @example
 * ```ts
 * import { SocketAddress, UnixDatagram } from "@netfx/core"
 *
 * // bound locally under an abstract name so the peer can reply
 * const options: UnixDatagram.ConnectOptions = {
 *   remotePath: "/tmp/app.dgram",
 *   localPath: SocketAddress.unixAbstract("client"),
 * }
 * const socket = UnixDatagram.connect(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** The peer; only its datagrams are received. */
  readonly remotePath: UnixAddressInput
  /** Bind locally first (so the peer can reply); omitted = unnamed. */
  readonly localPath?: UnixAddressInput
  readonly mode?: number
  readonly removeOnClose?: boolean
}

/**
 * Opens a Unix datagram socket connected to `remotePath`: `send` needs no
 * address and `receive` only yields the peer's datagrams.
 *
 * **Resource**: the socket belongs to the current Scope.
 *
 * **Errors**: `ConnectFailed` (`ENOENT`, `ECONNREFUSED`, ...) when the peer
 * does not exist; `ListenFailed` for the local bind; `InvalidArgument`;
 * `Unsupported` without the native addon.
 *
 * **Interruption**: closes the socket.
 *
 * @example
 * ```ts
 * import { UnixDatagram } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const socket = yield* UnixDatagram.connect({ remotePath: "/tmp/log.sock" })
 *   yield* socket.send(new TextEncoder().encode("Hi there!\n"))
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  options: ConnectOptions,
): Effect.Effect<
  UnixDatagramSocket,
  ConnectFailed | ListenFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> =>
  nativeDatagram.open(
    {
      ...(options.localPath === undefined ? {} : { path: options.localPath }),
      ...(options.mode === undefined ? {} : { mode: options.mode }),
      ...(options.removeOnClose === undefined ? {} : { removeOnClose: options.removeOnClose }),
    },
    options.remotePath,
  )

/**
 * The datagrams of a socket as a Stream (AnyIO's `async for packet, path in
 * socket`). It ends when the socket is closed.
 *
 * @example
 * ```ts
 * import { UnixDatagram } from "@netfx/core"
 * import { Effect, Stream } from "effect"
 *
 * const printAll = (socket: UnixDatagram.UnixDatagramSocket) =>
 *   Stream.runForEach(UnixDatagram.packets(socket), (p) => Effect.log(p.data.length))
 * ```
 *
 * @since 0.1.0
 * @category streams
 */
export const packets = (
  socket: UnixDatagramSocket,
  maxBytes = 65536,
): Stream.Stream<Packet, BusyResource | BrokenResource | InvalidArgument> =>
  Stream.unwrap(
    Effect.map(validate.positiveInt("maxBytes", maxBytes), (max) =>
      Stream.repeatEffectOption(
        socket
          .receive(max)
          .pipe(Effect.mapError((e) => (e._tag === "ClosedResource" ? Option.none() : Option.some(e)))),
      ),
    ),
  )
