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
 * The sockets speak the shared datagram vocabulary (see the `Datagram`
 * module): {@link bind} gives a {@link UnixDatagramSocket}
 * (`Datagram.DatagramSocket`), {@link connect} a
 * {@link ConnectedUnixDatagramSocket} (`Datagram.ConnectedDatagramSocket`).
 * A failed send that leaves the socket usable is `OperationFailed` with the
 * errno, as on UDP.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Datagram from "./Datagram.ts"
import * as nativeDatagram from "./internal/nativeDatagram.ts"
import type { ConnectFailed, InvalidArgument, ListenFailed, Unsupported } from "./NetError.ts"
import type * as Network from "./Network.ts"
import type * as SocketAddress from "./SocketAddress.ts"
import type { UnixAddressInput } from "./Unix.ts"

/**
 * A Unix datagram socket's address: a path (`UnixPath("")` when unnamed)
 * or an abstract name.
 *
 * @example
 * ```ts
 * import { SocketAddress, type UnixDatagram } from "@netfx/core"
 *
 * const named = (a: UnixDatagram.UnixAddress) => !(a._tag === "UnixPath" && a.path === "")
 * named(SocketAddress.unixPath("/tmp/app.dgram"))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type UnixAddress = SocketAddress.UnixPath | SocketAddress.UnixAbstract

/**
 * A received Unix datagram (see `Datagram.ReceivedDatagram`): its bytes,
 * its sender (`UnixPath("")` when the sender is unnamed) and whether it was
 * longer than `maxBytes` (the kernel discarded the rest).
 *
 * @example
 * ```ts
 * import { SocketAddress, type UnixDatagram } from "@netfx/core"
 *
 * const describe = (d: UnixDatagram.Received): string =>
 *   `${d.data.length} bytes from ${SocketAddress.format(d.address)}${d.truncated ? " (truncated)" : ""}`
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Received = Datagram.ReceivedDatagram<UnixAddress>

/**
 * An unconnected Unix datagram socket (`Datagram.DatagramSocket`).
 *
 * - `receive(maxBytes = 65536)`: the next datagram and its sender; a longer
 *   datagram is cut and the rest discarded by the kernel (`truncated`).
 * - `receiveMany(max, maxBytes = 65536)`: every datagram waiting in the
 *   kernel, up to `max` (at least one).
 * - `packets`: the datagrams as a Stream (`maxBytes` 65536; a Chunk of
 *   what was waiting per pull); ends when the socket is closed.
 * - `sendTo(data, to)`: waits while the receiver's queue is full;
 *   concurrent sends are queued in call order.
 * - `sendMany(datagrams)`: in order; stops at the first failure (the rest
 *   are not sent).
 *
 * **Resource**: open from {@link bind} until its Scope closes or `close`
 * runs; a bound path is removed on close unless `removeOnClose: false`.
 *
 * **Errors**: receives fail with `Datagram.ReceiveError`; sends with
 * `Datagram.SendError`: `OperationFailed` with `code` `EMSGSIZE` (larger
 * than the socket buffer), `ECONNREFUSED` (a socket file nobody has
 * bound), `ENOENT` (no such path), `EACCES`, ... concerns that datagram
 * only and the socket stays usable; `InvalidArgument` for a bad address;
 * `ClosedResource` after `close`.
 *
 * **Interruption**: an interrupted receive loses no datagram (it stays
 * queued in the kernel); an interrupted send may or may not have sent its
 * datagram.
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
export interface UnixDatagramSocket extends Datagram.DatagramSocket<UnixAddress, UnixAddressInput> {
  readonly fd: number
}

/**
 * A Unix datagram socket connected to one peer
 * (`Datagram.ConnectedDatagramSocket`): `send` needs no address and
 * `receive` gives only the peer's datagrams (their bytes; `maxBytes`
 * defaults to 65536 and the rest of a longer datagram is discarded).
 * A connected send waits for the peer's queue to drain when it is full.
 *
 * **Resource**, **Errors** and **Interruption**: as for
 * {@link UnixDatagramSocket}.
 *
 * @example
 * ```ts
 * import type { UnixDatagram } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const ask = (socket: UnixDatagram.ConnectedUnixDatagramSocket) =>
 *   Effect.zipRight(socket.send(new TextEncoder().encode("status")), socket.receive(4096))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface ConnectedUnixDatagramSocket extends Datagram.ConnectedDatagramSocket<UnixAddress> {
  readonly fd: number
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
 * import { Effect, Stream } from "effect"
 *
 * // the "Hello, " service
 * const service = Effect.gen(function* () {
 *   const socket = yield* UnixDatagram.bind({ path: "/tmp/mysock" })
 *   yield* Stream.runForEach(socket.packets, ({ data, address }) =>
 *     socket.sendTo(new Uint8Array([...new TextEncoder().encode("Hello, "), ...data]), address),
 *   )
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const bind = (
  options: BindOptions = {},
): Effect.Effect<UnixDatagramSocket, ListenFailed | InvalidArgument | Unsupported, Scope.Scope | Network.Network> =>
  Effect.catchTag(nativeDatagram.bind(options), "ConnectFailed", Effect.die)

/**
 * Options of {@link connect}: the peer's `path`, and optionally a local
 * address to bind first (`localPath`, so the peer can reply).
 *
 * @example
 * ```ts
 * import { SocketAddress, UnixDatagram } from "@netfx/core"
 *
 * // bound locally under an abstract name so the peer can reply
 * const options: UnixDatagram.ConnectOptions = {
 *   path: "/tmp/app.dgram",
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
  readonly path: UnixAddressInput
  /** Bind locally first (so the peer can reply); omitted = unnamed. */
  readonly localPath?: UnixAddressInput
  /** Permission bits for the local socket file (paths only). */
  readonly mode?: number
  /** Remove the local socket file when the socket closes (default `true`). */
  readonly removeOnClose?: boolean
}

/**
 * Opens a Unix datagram socket connected to `path`: `send` needs no
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
 *   const socket = yield* UnixDatagram.connect({ path: "/tmp/log.sock" })
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
  ConnectedUnixDatagramSocket,
  ConnectFailed | ListenFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> => nativeDatagram.connect(options)
