/**
 * UDP: bound sockets (`receive` / `sendTo` / a Stream of packets),
 * connected sockets (`send` / `receive`) — the `Datagram` vocabulary
 * shared with Unix datagram sockets —, multicast membership as a
 * scoped resource, broadcast and TTL options.
 *
 * Datagrams that arrive while nobody receives wait in a bounded queue
 * (`queueSize` datagrams, default 256). When it is full the `overflow`
 * policy decides which datagram is lost — the one arriving
 * (`"dropNewest"`, the default, what a full kernel buffer does) or the
 * oldest queued one (`"dropOldest"`, keeps the freshest data) — and every
 * loss is counted in `dropped`. Memory is therefore bounded by
 * `queueSize` × the largest datagram; nothing grows without bound. The
 * kernel's own receive buffer (`receiveBufferSize`) sits in front of the
 * queue and drops silently when netfx cannot keep up (Linux counts those
 * in the `drops` column of `/proc/net/udp`).
 *
 * Why no backpressure: UDP has none. A slow receiver cannot slow a sender;
 * the only choice is which datagrams to lose, so netfx makes it explicit.
 *
 * Batches: the runtime hands over each datagram in its own callback; on
 * Node and Bun netfx wakes a waiting receiver once per event-loop turn
 * (after the poll phase), not once per datagram, so `receiveMany` and each
 * pull of `packets` take the whole burst that arrived in that turn (Node
 * reads up to 32 datagrams per turn). A lone datagram waits for the end of
 * that turn only (no timer).
 *
 * Why one receiver at a time (`BusyResource` otherwise): datagrams are not
 * duplicated, so two consumers would each see an arbitrary subset. Fan out
 * explicitly (a Queue or PubSub fed by `packets`) when that is wanted.
 *
 * What each runtime really does (measured on Linux, Node 20.20, Bun 1.4.5):
 * - ICMP port unreachable after a datagram on a *connected* socket: Node
 *   emits an `error` event (`ECONNREFUSED`, syscall `recvmsg`); Bun calls
 *   its error handler (`ECONNREFUSED`, syscall `recv`) and its next `send`
 *   may also throw `ECONNREFUSED`. netfx reports either as one
 *   `OperationFailed` with `ECONNREFUSED` on the next `receive` (or `send`).
 *   On unconnected sockets Node reports nothing; Bun reports such errors
 *   from the socket's error queue, and netfx drops them as Node and BSD
 *   sockets do (they concern some earlier destination, not this socket).
 * - `EMSGSIZE` (over 65507 bytes for IPv4): Node fails the send callback,
 *   Bun throws from `send`; both become `OperationFailed` and the socket
 *   stays usable.
 * - Sends on Node: node:dgram reports every send on the next tick, even one
 *   the kernel took at once, so with the `@netfx/native` addon netfx sends
 *   on the socket's descriptor (a non-blocking `send`/`sendto`, which
 *   completes or fails at once) and hands a datagram to node:dgram only
 *   when the kernel's send buffer is full (`EAGAIN`) and while such a send
 *   is pending (order is kept). Without the addon every send goes through
 *   node:dgram. Receiving is always node:dgram's.
 * - `reusePort`: Node's `node:dgram` has it from 22.12 / 23.1; on older Node
 *   the `@netfx/native` addon sets it (without the addon, `bind` fails with
 *   `Unsupported`). Bun supports it.
 * - `receiveBufferSize` / `sendBufferSize`: Node applies them; on Bun the
 *   `@netfx/native` addon sets them on the socket's descriptor (without the
 *   addon, `bind` fails with `Unsupported`).
 * - Multicast (any-source and source-specific), broadcast and TTLs work on
 *   both; the contract tests check them inside a private network namespace.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Datagram from "./Datagram.ts"
import * as internal from "./internal/udp.ts"
import type {
  ClosedResource,
  ConnectFailed,
  InvalidArgument,
  ListenFailed,
  OperationFailed,
  ResolveFailed,
  Unsupported,
} from "./NetError.ts"
import type * as Network from "./Network.ts"
import type * as SocketAddress from "./SocketAddress.ts"

// ---------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------

/**
 * Where `sendTo` sends: a host (numeric, or a name the network's `Resolver`
 * resolves) and a port. A received datagram's `address` is one, so a reply
 * is `udp.sendTo(data, datagram.address)`.
 *
 * @example
 * ```ts
 * import type { Udp } from "@netfx/core"
 *
 * const ssdp: Udp.Destination = { host: "239.255.255.250", port: 1900 }
 * const announce = (udp: Udp.UdpSocket) => udp.sendTo(new TextEncoder().encode("NOTIFY * HTTP/1.1\r\n\r\n"), ssdp)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Destination {
  readonly host: string
  readonly port: number
}

/**
 * A received UDP datagram (see `Datagram.ReceivedDatagram`).
 *
 * @example
 * ```ts
 * import type { Udp } from "@netfx/core"
 *
 * // echo a datagram back to its sender
 * const echo = (udp: Udp.UdpSocket, datagram: Udp.Received) => udp.sendTo(datagram.data, datagram.address)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Received = Datagram.ReceivedDatagram<SocketAddress.Ipv4 | SocketAddress.Ipv6>

/**
 * What happens to a datagram that arrives while the receive queue is full:
 * `"dropNewest"` discards the arriving datagram, `"dropOldest"` discards the
 * oldest queued one to make room. Either way `dropped` grows by one.
 *
 * @example
 * ```ts
 * import { Udp } from "@netfx/core"
 *
 * // keep the freshest 64 datagrams when the consumer falls behind
 * const overflow: Udp.OverflowPolicy = "dropOldest"
 * const socket = Udp.bind({ port: 0, queueSize: 64, overflow })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type OverflowPolicy = "dropNewest" | "dropOldest"

/**
 * The errors of `sendTo`: those of every datagram socket
 * (`Datagram.SendError`) plus `ResolveFailed`.
 *
 * - `OperationFailed`: this datagram was not sent; the socket stays
 *   usable (`EMSGSIZE` too large, `EACCES` broadcast without
 *   `setBroadcast(true)`, `ENETUNREACH`, `ECONNREFUSED` reported for an
 *   earlier datagram on a connected socket, ...).
 * - `ClosedResource`: the socket was closed.
 * - `InvalidArgument`: a bad port, or an address of the other family.
 * - `ResolveFailed`: `sendTo` could not resolve the host name.
 *
 * @example
 * ```ts
 * import type { Udp } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const sendOrLog = (udp: Udp.UdpSocket, data: Uint8Array) =>
 *   udp
 *     .sendTo(data, { host: "239.255.255.250", port: 1900 })
 *     .pipe(Effect.catchAll((e: Udp.SendError) => Effect.logWarning(`datagram not sent: ${e._tag}`)))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type SendError = Datagram.SendError | ResolveFailed

/**
 * The errors of setting a socket option or joining a group.
 *
 * @example
 * ```ts
 * import type { Udp } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const tryBroadcast = (udp: Udp.UdpSocket) =>
 *   udp.setBroadcast(true).pipe(Effect.catchAll((e: Udp.OptionError) => Effect.logWarning(`no broadcast: ${e._tag}`)))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type OptionError = ClosedResource | OperationFailed | InvalidArgument | Unsupported

/**
 * Options both kinds of UDP socket have.
 *
 * @example
 * ```ts
 * import { SocketAddress, type Udp } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // works for bound and connected sockets alike
 * const report = (udp: Udp.UdpSocketBase) =>
 *   Effect.gen(function* () {
 *     yield* udp.setTtl(64)
 *     return `${SocketAddress.format(udp.localAddress)}: ${yield* udp.queued} queued, ${yield* udp.dropped} dropped`
 *   })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface UdpSocketBase {
  /** The bound local address (the port is the real one when 0 was asked for). */
  readonly localAddress: SocketAddress.Ipv4 | SocketAddress.Ipv6
  /** `"ipv4"` or `"ipv6"`. */
  readonly family: "ipv4" | "ipv6"
  /** The OS descriptor where the runtime exposes one. */
  readonly fd: number | undefined
  /** Datagrams lost because the receive queue was full (see {@link OverflowPolicy}). */
  readonly dropped: Effect.Effect<number>
  /** Datagrams waiting in the receive queue now. */
  readonly queued: Effect.Effect<number>
  /**
   * SO_BROADCAST: allow sending to broadcast addresses. Off by default;
   * sending to a broadcast address without it fails with `EACCES`.
   */
  setBroadcast(enabled: boolean): Effect.Effect<void, OptionError>
  /** IP_TTL / IPV6_UNICAST_HOPS for unicast datagrams (1..255). */
  setTtl(ttl: number): Effect.Effect<void, OptionError>
  /**
   * Closes the socket now. Idempotent. Queued datagrams are discarded; a
   * waiting `receive` or send fails with `ClosedResource`.
   */
  readonly close: Effect.Effect<void>
}

/**
 * Membership in a multicast group (see {@link UdpSocket.joinMulticastGroup}).
 *
 * @example
 * ```ts
 * import { Udp } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // the seed's SSDP-style listener: port 1900, group 239.255.255.250
 * const listen = Effect.gen(function* () {
 *   const udp = yield* Udp.bind({ port: 1900, reuseAddress: true })
 *   yield* udp.joinMulticastGroup({ group: "239.255.255.250" }) // left when the Scope closes
 *   return yield* udp.receive()
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface MulticastGroup {
  /** The group address: 224.0.0.0/4 for IPv4, ff00::/8 for IPv6. */
  readonly group: string
  /**
   * The local interface: its IPv4 address, or for IPv6 a scope such as
   * `"::%lo"` / `"::%1"`. Omitted: the system chooses by route.
   */
  readonly interface?: string
  /** Source-specific membership (SSM): receive only what this source sends to the group. */
  readonly source?: string
}

/**
 * A bound UDP socket: receive datagrams from anyone, send to anyone — a
 * `Datagram.DatagramSocket` with UDP's options and multicast.
 *
 * - `receive(maxBytes?)`: the next datagram and its sender. Without
 *   `maxBytes` the whole datagram; with it, at most `maxBytes` bytes and
 *   the rest of that datagram is discarded (`truncated: true`), as
 *   `recvfrom(2)` does.
 * - `receiveMany(max, maxBytes?)`: every queued datagram up to `max` (at
 *   least one), in one wake-up.
 * - `packets`: the datagrams as a Stream, a Chunk of every queued datagram
 *   per pull; ends when the socket closes.
 * - `sendTo(data, { host, port })`: a numeric host is used as is; a name is
 *   resolved with the network's `Resolver` for the socket's family. On a
 *   dual-stack IPv6 socket an IPv4 destination is sent as an IPv4-mapped
 *   address (`::ffff:a.b.c.d`). Completes when the runtime accepted the
 *   datagram (UDP gives no delivery guarantee beyond that).
 * - `sendMany(datagrams)`: in order, in one call: names are resolved
 *   first (nothing is sent if one fails), then every datagram is handed to
 *   the runtime without waiting in between. Fails with the first failure;
 *   where the runtime reports it at once (Bun; Node with the
 *   `@netfx/native` addon) the rest is then not sent; where it reports it
 *   on the next tick (Node's node:dgram) later datagrams may already be on
 *   their way.
 *
 * **Resource**: acquired by {@link bind} into the caller's Scope; closing
 * the Scope closes the socket (and leaves every joined group).
 *
 * **Errors**: receives fail with `Datagram.ReceiveError`; sends with
 * {@link SendError} (`OperationFailed` leaves the socket usable).
 *
 * **Interruption**: an interrupted receive loses nothing (a datagram not
 * yet returned stays queued); its fiber keeps the receive until it is done
 * (another fiber's receive meanwhile is `BusyResource`; that fiber itself
 * may receive again at once, e.g. in a finalizer), which `Fiber.interrupt`,
 * `Effect.timeout` and races wait for anyway. Interrupting `sendTo` while
 * resolving sends nothing, while the runtime holds the datagram it may
 * still be sent (whole), and the socket stays usable.
 *
 * @example
 * ```ts
 * import { Udp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const echoOnce = Effect.gen(function* () {
 *   const udp = yield* Udp.bind({ host: "127.0.0.1", queueSize: 1024, overflow: "dropOldest" })
 *   const { data, address } = yield* udp.receive()
 *   yield* udp.sendTo(data, address)
 *   console.log(`lost so far: ${yield* udp.dropped}`)
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface UdpSocket
  extends UdpSocketBase,
    Datagram.DatagramSocket<SocketAddress.Ipv4 | SocketAddress.Ipv6, Destination, SendError> {
  /**
   * Joins a multicast group for the lifetime of the current Scope and
   * leaves it when the Scope closes (or when the socket closes first).
   * With `source`, a source-specific join (IGMPv3 / MLDv2).
   *
   * **Errors**: `InvalidArgument` when `group` is not a multicast address
   * of the socket's family; `OperationFailed` with the kernel's code
   * (`EADDRNOTAVAIL`: no such interface or no multicast route; `EADDRINUSE`:
   * already joined); `Unsupported` where the runtime lacks the feature;
   * `ClosedResource` after close.
   *
   * **Interruption**: not interruptible (a single system call); once it
   * succeeded the leave is registered in the Scope.
   */
  joinMulticastGroup(options: MulticastGroup): Effect.Effect<void, OptionError, Scope.Scope>
  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS (0..255, default 1: the local network). */
  setMulticastTtl(ttl: number): Effect.Effect<void, OptionError>
  /** IP_MULTICAST_LOOP: whether this host's own group members get what it sends (default on). */
  setMulticastLoopback(enabled: boolean): Effect.Effect<void, OptionError>
  /** IP_MULTICAST_IF: the outgoing interface for multicast (IPv4 address, or `"::%scope"`). */
  setMulticastInterface(address: string): Effect.Effect<void, OptionError>
}

/**
 * A connected UDP socket: sends to and receives from one peer only
 * (datagrams from other addresses are filtered out by the kernel) — a
 * `Datagram.ConnectedDatagramSocket` with UDP's options.
 *
 * - `receive(maxBytes?)`: the next datagram's bytes (cut to `maxBytes`, the
 *   rest of that datagram discarded). `OperationFailed` with
 *   `ECONNREFUSED` once, when an earlier datagram met a closed port (ICMP
 *   port unreachable) — both Node and Bun report it this way.
 * - `send(data)`: a pending `ECONNREFUSED` for an earlier datagram is
 *   reported here if no receive took it first (this datagram is then not
 *   sent, as with BSD `send`).
 *
 * **Resource**: acquired by {@link connect} into the caller's Scope.
 *
 * **Errors** and **Interruption**: as for {@link UdpSocket}.
 *
 * @example
 * ```ts
 * import { Udp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const ask = Effect.gen(function* () {
 *   const udp = yield* Udp.connect({ host: "127.0.0.1", port: 1234 })
 *   yield* udp.send(new TextEncoder().encode("ping"))
 *   return yield* udp.receive() // OperationFailed ECONNREFUSED if nobody listens
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface ConnectedUdpSocket
  extends UdpSocketBase,
    Datagram.ConnectedDatagramSocket<SocketAddress.Ipv4 | SocketAddress.Ipv6> {}

// ---------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------

/**
 * Options of {@link bind}.
 *
 * @example
 * ```ts
 * import { Udp } from "@netfx/core"
 *
 * const options: Udp.BindOptions = { family: "ipv6", port: 5353, reuseAddress: true, queueSize: 1024 }
 * const socket = Udp.bind(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface BindOptions {
  /**
   * The local host: a numeric address or a name (resolved with the
   * network's `Resolver`; the first address of the wanted family is used,
   * so `"localhost"` works without naming a family). Omitted: the wildcard
   * of `family` (`0.0.0.0` by default, `::` for `"ipv6"`).
   */
  readonly host?: string
  /** The local port; 0 (the default) lets the system choose. */
  readonly port?: number
  /** Restricts `host` resolution / chooses the wildcard. */
  readonly family?: "ipv4" | "ipv6"
  /** SO_REUSEPORT: several sockets share the port (Linux). Default false. */
  readonly reusePort?: boolean
  /** SO_REUSEADDR. Default false. */
  readonly reuseAddress?: boolean
  /** SO_RCVBUF in bytes (the kernel may double it). */
  readonly receiveBufferSize?: number
  /** SO_SNDBUF in bytes. */
  readonly sendBufferSize?: number
  /** IPV6_V6ONLY for IPv6 sockets. Default false (a `::` socket is dual-stack). */
  readonly ipv6Only?: boolean
  /** Receive-queue bound in datagrams. Default 256. */
  readonly queueSize?: number
  /** What to drop when the queue is full. Default `"dropNewest"`. */
  readonly overflow?: OverflowPolicy
}

/**
 * Opens a UDP socket bound to a local address.
 *
 * **Resource**: the socket belongs to the current Scope and is closed when
 * it closes (or by `close`).
 *
 * **Errors**: `InvalidArgument` for a bad port, queue size, buffer size or
 * overflow policy, or a host of the other `family`; `ResolveFailed` when
 * the host does not resolve (`EAI_ADDRFAMILY` when it has no address of
 * the wanted family); `ListenFailed` with `EADDRINUSE`, `EADDRNOTAVAIL`,
 * `EACCES`, ...; `Unsupported` when the runtime has no UDP or lacks an
 * asked-for option (e.g. `reusePort` on Node before 22.12 without the
 * `@netfx/native` addon).
 *
 * **Interruption**: closes the socket if it was already created.
 *
 * @example
 * ```ts
 * import { Udp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect, Stream } from "effect"
 *
 * // AnyIO's UDP "hello" service
 * const hello = Effect.gen(function* () {
 *   const udp = yield* Udp.bind({ host: "localhost", port: 1234 })
 *   yield* Stream.runForEach(udp.packets, ({ data, address }) =>
 *     udp.sendTo(new Uint8Array([...new TextEncoder().encode("Hello, "), ...data]), address),
 *   )
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const bind: (
  options?: BindOptions,
) => Effect.Effect<
  UdpSocket,
  ListenFailed | ResolveFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> = internal.bind

/**
 * Options of {@link connect}.
 *
 * @example
 * ```ts
 * import { Udp } from "@netfx/core"
 *
 * const options: Udp.ConnectOptions = { host: "localhost", port: 53, family: "ipv4" }
 * const connection = Udp.connect(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** The peer: a numeric address or a name (the first address of `family` is used). */
  readonly host: string
  /** The peer's port (1..65535). */
  readonly port: number
  /** Bind the local end to this host (default: the wildcard of the peer's family). */
  readonly localHost?: string
  /** Bind the local end to this port (default 0). */
  readonly localPort?: number
  /** Restricts resolution of `host`. */
  readonly family?: "ipv4" | "ipv6"
  readonly reusePort?: boolean
  readonly reuseAddress?: boolean
  readonly receiveBufferSize?: number
  readonly sendBufferSize?: number
  /** Receive-queue bound in datagrams. Default 256. */
  readonly queueSize?: number
  /** What to drop when the queue is full. Default `"dropNewest"`. */
  readonly overflow?: OverflowPolicy
}

/**
 * Opens a UDP socket connected to one peer (AnyIO's
 * `create_connected_udp_socket`): `send` needs no address and only the
 * peer's datagrams are received. No packet is exchanged by connecting.
 *
 * **Resource**: the socket belongs to the current Scope.
 *
 * **Errors**: `InvalidArgument` for bad ports or options; `ResolveFailed`
 * for an unresolvable host; `ListenFailed` when the local address cannot be
 * bound; `ConnectFailed` when the kernel refuses the peer (`ENETUNREACH`,
 * ...); `Unsupported` as for {@link bind}.
 *
 * **Interruption**: closes the socket if it was already created.
 *
 * @example
 * ```ts
 * import { Udp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const client = Effect.gen(function* () {
 *   const udp = yield* Udp.connect({ host: "localhost", port: 1234 })
 *   yield* udp.send(new TextEncoder().encode("Hi there!\n"))
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: (
  options: ConnectOptions,
) => Effect.Effect<
  ConnectedUdpSocket,
  ListenFailed | ConnectFailed | ResolveFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> = internal.connect

/**
 * Whether `host` is a multicast address (224.0.0.0/4 or ff00::/8).
 *
 * @example
 * ```ts
 * import { Udp } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.ok(Udp.isMulticast("239.255.0.1"))
 * assert.ok(!Udp.isMulticast("127.0.0.1"))
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const isMulticast: (host: string) => boolean = internal.isMulticast
