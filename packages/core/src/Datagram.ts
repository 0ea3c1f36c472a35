/**
 * The vocabulary every datagram socket shares: UDP (`Udp.bind`,
 * `Udp.connect`), Unix datagram sockets (`UnixDatagram.bind`,
 * `UnixDatagram.connect`) and `RawSocket.receiveFrom`.
 *
 * - An unconnected socket ({@link DatagramSocket}) receives
 *   {@link ReceivedDatagram}s (`{ data, address, truncated }`) from anyone
 *   and sends with `sendTo(data, address)`; a received datagram's `address`
 *   is a valid destination, so an echo is `sendTo(d.data, d.address)`.
 * - A connected socket ({@link ConnectedDatagramSocket}) talks to one peer:
 *   `send(data)`, and `receive` gives the bytes only (the sender is always
 *   `remoteAddress`).
 * - Both have `localAddress`, `receive(maxBytes?)`, a batched
 *   `receiveMany(max, maxBytes?)`, a batched `sendMany`, the received
 *   datagrams as a member Stream `packets` (one Chunk per wake-up: every
 *   datagram that was waiting), and `close`.
 *
 * **Truncation** works like `recvfrom(2)`: a datagram longer than
 * `maxBytes` is cut to `maxBytes` and the rest of it is discarded (it is
 * not delivered by the next receive); `truncated` says so on unconnected
 * sockets.
 *
 * **Errors** are the same on every datagram socket: a send that failed but
 * left the socket usable (`EMSGSIZE`, `ECONNREFUSED`, `ENOENT`, `EACCES`,
 * ...) is `OperationFailed` with the errno in `code`; `ClosedResource` after
 * `close`; `BusyResource` when a second fiber receives.
 *
 * @since 0.2.0
 */
import type * as Chunk from "effect/Chunk"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { BusyResource, ClosedResource, InvalidArgument, OperationFailed } from "./NetError.ts"

/**
 * One received datagram: its bytes, who sent it, and whether it was longer
 * than the `maxBytes` asked for (then `data` holds the first `maxBytes`
 * bytes and the rest is gone, as with `recvfrom(2)` and `MSG_TRUNC`).
 *
 * The address type depends on the socket: `SocketAddress.Ipv4 | Ipv6` on
 * UDP, `UnixPath | UnixAbstract` on Unix datagram sockets
 * (`UnixPath("")` for an unnamed sender).
 *
 * @example
 * ```ts
 * import { type Datagram, SocketAddress } from "@netfx/core"
 *
 * const describe = (d: Datagram.ReceivedDatagram<SocketAddress.SocketAddress>): string =>
 *   `${d.data.length} bytes from ${SocketAddress.format(d.address)}${d.truncated ? " (truncated)" : ""}`
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface ReceivedDatagram<A> {
  readonly data: Uint8Array
  readonly address: A
  readonly truncated: boolean
}

/**
 * One datagram to send with {@link DatagramSocket.sendMany}: the same shape
 * as a {@link ReceivedDatagram}, so received datagrams can be sent back
 * as they are.
 *
 * @example
 * ```ts
 * import type { Datagram } from "@netfx/core"
 *
 * const hello: Datagram.OutgoingDatagram<{ host: string; port: number }> = {
 *   data: new TextEncoder().encode("hello"),
 *   address: { host: "127.0.0.1", port: 9 },
 * }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface OutgoingDatagram<To> {
  readonly data: Uint8Array
  readonly address: To
}

/**
 * The errors of `receive` / `receiveMany` on any datagram socket.
 *
 * - `ClosedResource`: the socket was closed (this also wakes a waiting
 *   receive).
 * - `BusyResource`: another fiber is already receiving. Datagrams are not
 *   duplicated, so two consumers would each see an arbitrary subset; fan
 *   out explicitly (a Queue or PubSub fed by `packets`) when that is wanted.
 * - `OperationFailed`: the system reported an error, once (on a connected
 *   UDP socket: `ECONNREFUSED` after an ICMP port unreachable). The socket
 *   stays usable.
 * - `InvalidArgument`: `maxBytes` or `max` is not a positive integer.
 *
 * @example
 * ```ts
 * import type { Datagram, Udp } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // `None` once the socket is closed
 * const next = (udp: Udp.UdpSocket) =>
 *   udp.receive().pipe(
 *     Effect.asSome,
 *     Effect.catchAll((e: Datagram.ReceiveError) => (e._tag === "ClosedResource" ? Effect.succeedNone : Effect.fail(e))),
 *   )
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export type ReceiveError = ClosedResource | BusyResource | OperationFailed | InvalidArgument

/**
 * The errors of a `packets` Stream: it ends (without error) when the socket
 * is closed.
 *
 * @example
 * ```ts
 * import type { Datagram } from "@netfx/core"
 *
 * const explain = (e: Datagram.PacketsError): string =>
 *   e._tag === "BusyResource" ? "someone else is receiving" : `receive failed: ${e.code}`
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export type PacketsError = BusyResource | OperationFailed

/**
 * The errors of sending a datagram on any datagram socket.
 *
 * - `OperationFailed`: this datagram was not sent, the socket is fine and
 *   stays usable; `code` holds the errno (`EMSGSIZE` too large,
 *   `ECONNREFUSED` nobody there, `ENOENT` no such Unix path, `EACCES`,
 *   `ENETUNREACH`, ...).
 * - `ClosedResource`: the socket was closed.
 * - `InvalidArgument`: a bad destination or data that is not a `Uint8Array`.
 *
 * UDP adds `ResolveFailed` for `sendTo` a host name (see `Udp.SendError`).
 *
 * @example
 * ```ts
 * import type { Datagram } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const sendOrWarn = (socket: Datagram.ConnectedDatagramSocket<unknown>, data: Uint8Array) =>
 *   socket
 *     .send(data)
 *     .pipe(
 *       Effect.catchAll((e: Datagram.SendError) =>
 *         e._tag === "OperationFailed" ? Effect.logWarning(`not sent: ${e.code}`) : Effect.fail(e),
 *       ),
 *     )
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export type SendError = ClosedResource | OperationFailed | InvalidArgument

/**
 * An unconnected datagram socket: receives from anyone, sends to any
 * address. `Udp.UdpSocket` and `UnixDatagram.UnixDatagramSocket` are
 * both one (`A` their address type, `To` what `sendTo` accepts).
 *
 * **Resource**: acquired into the caller's Scope by the module's `bind`;
 * closing the Scope closes the socket.
 *
 * **Interruption**: an interrupted receive loses no datagram (it stays
 * queued for the next receive); an interrupted send may or may not have
 * sent its datagram, whole (a datagram is never cut).
 *
 * @example
 * ```ts
 * import type { Datagram } from "@netfx/core"
 * import { Effect, Stream } from "effect"
 *
 * // an echo service for any datagram socket whose addresses can be replied to
 * const echo = <A extends To, To>(socket: Datagram.DatagramSocket<A, To>) =>
 *   Stream.runForEach(socket.packets, (d) => socket.sendTo(d.data, d.address).pipe(Effect.ignore))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface DatagramSocket<A, To = A, SendE = SendError> {
  /** The bound local address (the real port when 0 was asked for; `UnixPath("")` when unnamed). */
  readonly localAddress: A
  /** The OS descriptor where the runtime exposes one. */
  readonly fd: number | undefined
  /**
   * Receives the next datagram with its sender: a waiting one, or the next
   * to arrive. `maxBytes` cuts longer datagrams (see {@link ReceivedDatagram}).
   *
   * **Errors**: see {@link ReceiveError}.
   */
  receive(maxBytes?: number): Effect.Effect<ReceivedDatagram<A>, ReceiveError>
  /**
   * Receives every datagram that is waiting, up to `max` (at least one: it
   * waits for the first like `receive`). One call, one wake-up, however
   * many datagrams.
   *
   * **Errors**: see {@link ReceiveError}. A failure that arrives after some
   * datagrams were taken is reported by the next call, not lost.
   */
  receiveMany(max: number, maxBytes?: number): Effect.Effect<Chunk.NonEmptyChunk<ReceivedDatagram<A>>, ReceiveError>
  /**
   * The received datagrams as a Stream: each pull hands over every datagram
   * waiting (one Chunk). Ends when the socket is closed. One consumer at a
   * time (`BusyResource`).
   */
  readonly packets: Stream.Stream<ReceivedDatagram<A>, PacketsError>
  /**
   * Sends one datagram to `to`.
   *
   * **Errors**: see {@link SendError}.
   */
  sendTo(data: Uint8Array, to: To): Effect.Effect<void, SendE>
  /**
   * Sends several datagrams in order, in one call. Fails with the first
   * failure: the datagrams before it were sent; whether later ones were
   * depends on the socket (Unix datagram sockets and UDP on Bun stop there;
   * UDP on Node hands the whole batch to the runtime at once, so later
   * datagrams may already be on their way).
   */
  sendMany(datagrams: Iterable<OutgoingDatagram<To>>): Effect.Effect<void, SendE>
  /** Closes the socket now; waiting receives and sends fail with `ClosedResource`. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * A connected datagram socket: sends to and receives from one peer only
 * (the kernel filters out datagrams from other senders).
 * `Udp.ConnectedUdpSocket` and `UnixDatagram.ConnectedUnixDatagramSocket`
 * are both one.
 *
 * **Resource**: acquired into the caller's Scope by the module's
 * `connect`.
 *
 * **Interruption**: as for {@link DatagramSocket}.
 *
 * @example
 * ```ts
 * import type { Datagram } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // one request, one answer of at most 512 bytes
 * const ask = (socket: Datagram.ConnectedDatagramSocket<unknown>, question: Uint8Array) =>
 *   Effect.zipRight(socket.send(question), socket.receive(512))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface ConnectedDatagramSocket<A> {
  readonly localAddress: A
  /** The peer every datagram goes to and comes from. */
  readonly remoteAddress: A
  readonly fd: number | undefined
  /**
   * Receives the next datagram's bytes (at most `maxBytes`; the rest of a
   * longer datagram is discarded).
   *
   * **Errors**: see {@link ReceiveError}.
   */
  receive(maxBytes?: number): Effect.Effect<Uint8Array, ReceiveError>
  /** Receives every datagram that is waiting, up to `max` (at least one). */
  receiveMany(max: number, maxBytes?: number): Effect.Effect<Chunk.NonEmptyChunk<Uint8Array>, ReceiveError>
  /** The received datagrams' bytes as a Stream (a Chunk per pull); ends when the socket is closed. */
  readonly packets: Stream.Stream<Uint8Array, PacketsError>
  /** Sends one datagram to the peer. **Errors**: see {@link SendError}. */
  send(data: Uint8Array): Effect.Effect<void, SendError>
  /** Sends several datagrams in order, in one call; fails with the first failure (see `DatagramSocket.sendMany`). */
  sendMany(datagrams: Iterable<Uint8Array>): Effect.Effect<void, SendError>
  /** Closes the socket now. Idempotent. */
  readonly close: Effect.Effect<void>
}
