/**
 * An in-memory `Network` for deterministic tests: virtual hosts and ports,
 * byte streams with the same contracts as real sockets, a static resolver,
 * and fault injection (latency, jitter, bandwidth, refused and black-holed
 * connects, resets, partitions) that can change while a test runs.
 *
 * Time passes only through Effect's `Clock`: under `TestClock` a 50 ms
 * latency takes exactly 50 ms of virtual time and no real time at all.
 * Randomness (jitter, loss, duplication, reordering) comes from a seeded
 * PRNG, so a run repeats exactly.
 *
 * What it provides: TCP (`Tcp.connect`/`Tcp.listen`, happy eyeballs
 * included), Unix stream sockets (paths live in the network's own
 * namespace; no file is created), UDP (`Udp.bind`/`Udp.connect`,
 * multicast and broadcast included) and the resolver (names from {@link Options.hosts}, which
 * `Control.addHost` can change). TLS runs when a runtime's TLS driver is
 * passed in ({@link Options.tls}).
 *
 * Unix datagram sockets (`UnixDatagram`), descriptor passing
 * (`FdPassing`) and Unix `RawSocket`s run on a small virtual kernel that keeps the contract of
 * the `@netfx/native` addon (the same core code runs on both): EAGAIN and
 * readiness, a 10-datagram receive queue (Linux's `max_dgram_qlen`),
 * `EMSGSIZE` beyond the 208 KiB socket buffer, truncation, `MSG_CTRUNC`,
 * resets. Its descriptors are virtual numbers from 1000 up: every TCP and
 * Unix stream connection has one (`SocketStream.fd`), as do the sockets of
 * those two modules and in-memory files from {@link ControlService.openFile};
 * passing anything else (a real descriptor) fails with `EBADF`. A passed
 * connection lives until its last descriptor closes (closing it then with
 * unread bytes resets it, as a kernel does); the most recent adopter
 * (`FdPassing.toByteStream`) receives its bytes. As on a real system, an
 * `FdPassing` stream and a `Unix` stream reach each other's
 * listeners. Unix datagrams meet the faults in force for the host
 * `"unix"` (the global faults, or a link rule `{ from: "unix" }`), as
 * memory `Unix` streams do; fd-passing streams carry no faults.
 *
 * The model, in short:
 * - every packet takes `latency` (+ jitter, + bandwidth queueing) one way;
 *   a connect takes one round trip; nothing is delivered from the caller's
 *   stack, all delivery runs on one timer fiber;
 * - a stream direction has a window ({@link Options.window}): `send` waits
 *   once the bytes in flight plus the receiver's unread bytes reach it;
 * - closing a socket with unread bytes resets the connection
 *   (`BrokenResource` `ECONNRESET` at the peer), as a kernel does;
 * - a lost stream segment arrives after a retransmission timeout (200 ms,
 *   doubling); a lost datagram is gone;
 * - connects from the default network come from `10.0.0.1` / `fd00::1`
 *   (loopback for loopback targets); `control.host(address)` gives a view
 *   of the network from another host, for link rules and partitions;
 * - a host is a network view: the default network is one host (10.0.0.1 /
 *   fd00::1, or {@link Options.address}), and views from `control.host(...)`
 *   with the same source addresses are one other host; a host has a single
 *   interface, so any IPv4 address or `"::%scope"` given as a multicast
 *   interface names it. Ports are one space for the whole network: sockets of
 *   different hosts share a port only with `reusePort`;
 * - multicast behaves as on Linux: a datagram to a group reaches a host when
 *   one of its sockets joined the group (any-source, or source-specific for
 *   that source), and there every socket bound to the port on the wildcard or
 *   on the group address gets a copy if it joined (admitting the source) or
 *   has no membership of that group at all (`IP_MULTICAST_ALL`, on by
 *   default). `setMulticastLoopback(false)` keeps copies from the sending
 *   host's sockets, `setMulticastTtl(0)` keeps them on it; a wildcard
 *   sender's source address is its multicast interface (IPv4) or its host's
 *   address. Joining a group twice fails with `EADDRINUSE` (a repeated
 *   source-specific join with `EADDRNOTAVAIL`); closing the Scope or the
 *   socket leaves;
 * - broadcast addresses are 255.255.255.255 and any other IPv4 address ending
 *   in `.255` (a /24's directed broadcast: every host) and 127.255.255.255
 *   (the sending host only). Sending to one without `setBroadcast(true)`
 *   fails with `OperationFailed` `EACCES` (the socket stays usable), and
 *   `Udp.connect` to one with `ConnectFailed` `EACCES`; a broadcast reaches
 *   every socket bound to the port on the wildcard or on that broadcast
 *   address (not one bound to a unicast address, as on Linux);
 * - each multicast or broadcast copy meets the faults and partitions of the
 *   link from the sender to its receiver's host, with its own draws from the
 *   seeded PRNG.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, Tcp } from "@netfx/core"
 * import { Clock, Effect, Fiber, TestClock } from "effect"
 *
 * // in an `it.effect` test (TestClock in place)
 * const test = Effect.gen(function* () {
 *   const fiber = yield* Effect.fork(
 *     Effect.gen(function* () {
 *       const control = yield* MemoryNetwork.Control
 *       yield* control.setFaults({ latency: "50 millis" })
 *       const listener = yield* Tcp.listen({ host: "server.test", port: 80 })
 *       const start = yield* Clock.currentTimeMillis
 *       yield* Tcp.connect({ host: "server.test", port: 80 })
 *       return (yield* Clock.currentTimeMillis) - start // exactly 100
 *     }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer({ hosts: { "server.test": "10.0.0.80" } }))),
 *   )
 *   yield* TestClock.adjust("1 minute")
 *   return yield* Fiber.join(fiber)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { TlsDriver } from "./Driver.ts"
import { Kernel } from "./internal/memory/kernel/index.ts"
import { MemoryNet } from "./internal/memory/network.ts"
import { Scheduler } from "./internal/memory/scheduler.ts"
import { tcpDriver, type View } from "./internal/memory/tcp.ts"
import { udpDriver } from "./internal/memory/udp.ts"
import { UnixNamespace, unixDriver } from "./internal/memory/unix.ts"
import { Network, type NetworkService } from "./Network.ts"
import * as Resolver from "./Resolver.ts"
import type * as SocketAddress from "./SocketAddress.ts"

/**
 * The transports the memory network carries.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const udp: MemoryNetwork.Transport = "udp"
 * const udpSockets = Effect.map(
 *   Effect.flatMap(MemoryNetwork.Control, (c) => c.sockets),
 *   (sockets) => sockets.filter((s) => s.transport === udp),
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Transport = "tcp" | "udp" | "unix" | "unixDatagram"

/**
 * Faults on a link (or everywhere). Every field is optional; a later rule
 * overrides the fields it sets.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "@netfx/core"
 *
 * const flaky: MemoryNetwork.Faults = { latency: "20 millis", jitter: "5 millis", loss: 0.01 }
 * const network = MemoryNetwork.layer({ faults: flaky })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Faults {
  /** One-way delay of every packet (a connect takes two). */
  readonly latency?: Duration.DurationInput
  /** Extra one-way delay, uniform in [0, jitter), from the seeded PRNG. Streams keep their order. */
  readonly jitter?: Duration.DurationInput
  /** Bytes per second on the link, per direction. */
  readonly bandwidth?: number
  /** Connects fail with `ECONNREFUSED` (after one round trip). */
  readonly refuse?: boolean
  /** Connects hang until interrupted (SYNs dropped). */
  readonly blackhole?: boolean
  /** A connection is reset (both ends see `ECONNRESET`) once it has carried this many bytes. */
  readonly resetAfterBytes?: number
  /**
   * Probability (0..1) that a packet is lost. A lost datagram is gone; a
   * lost stream segment arrives after a retransmission timeout (200 ms,
   * doubling on each further loss) and holds back the bytes behind it.
   */
  readonly loss?: number
  /** Probability (0..1) that a datagram is delivered twice. */
  readonly duplicate?: number
  /** Probability (0..1) that a datagram is held back behind the next one. */
  readonly reorder?: number
  /** Datagrams larger than this are dropped. */
  readonly maxDatagramSize?: number
}

/**
 * Faults for the traffic between hosts. `from`/`to` are addresses or
 * names of the static host table (omitted: any host). A rule applies in
 * both directions unless `oneWay` is set.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const slowUplink: MemoryNetwork.LinkRule = { from: "10.0.0.1", to: "db.test", oneWay: true, faults: { bandwidth: 1_000_000 } }
 * const throttle = Effect.flatMap(MemoryNetwork.Control, (c) => c.addLink(slowUplink))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface LinkRule {
  readonly from?: string | ReadonlyArray<string>
  readonly to?: string | ReadonlyArray<string>
  readonly oneWay?: boolean
  readonly faults: Faults
}

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "@netfx/core"
 *
 * const options: MemoryNetwork.Options = {
 *   hosts: { "db.test": "10.0.0.5", "dual.test": ["10.0.0.6", "fd00::6"] },
 *   window: 65536,
 *   seed: 42,
 * }
 * const network = MemoryNetwork.layer(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The static name table: name → one or more addresses (both families allowed). `localhost` is predefined. */
  readonly hosts?: Readonly<Record<string, string | ReadonlyArray<string>>>
  /** The address outgoing connections to non-loopback hosts come from (default `10.0.0.1` / `fd00::1`). */
  readonly address?: { readonly ipv4?: string; readonly ipv6?: string }
  /** Receive window per connection direction in bytes (default 131072): the sender blocks beyond it. */
  readonly window?: number
  /** Seed of the PRNG behind jitter, loss, duplication and reordering (default 1). */
  readonly seed?: number
  /** Faults everywhere, from the start. */
  readonly faults?: Faults
  /** Link rules, from the start. */
  readonly links?: ReadonlyArray<LinkRule>
  /**
   * A TLS driver to run over the memory connections (TLS drivers work on
   * any `RawConnection`): `MemoryNetwork.layer({ tls: NodeNetwork.make().tls })`
   * (or `BunNetwork.make().tls`) gives `Tcp.connect({ tls })` /
   * `Tcp.listen({ tls })` over memory connections with that runtime's TLS;
   * virtual time stays exact under
   * `TestClock` (a TLS 1.3 handshake adds one round trip). Omitted: TLS
   * fails with `Unsupported`.
   */
  readonly tls?: TlsDriver | undefined
}

/**
 * A live socket, as {@link ControlService.sockets} lists it.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const describe = (s: MemoryNetwork.SocketInfo) =>
 *   `${s.transport} ${SocketAddress.format(s.localAddress)}: ${s.bytesSent} out, ${s.bytesReceived} in`
 * const report = Effect.map(Effect.flatMap(MemoryNetwork.Control, (c) => c.sockets), (all) => all.map(describe))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketInfo {
  readonly transport: Transport
  readonly localAddress: SocketAddress.SocketAddress
  readonly remoteAddress: SocketAddress.SocketAddress | undefined
  readonly bytesSent: number
  readonly bytesReceived: number
}

/**
 * One connect attempt, as {@link ControlService.connects} lists it.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const describe = (c: MemoryNetwork.ConnectInfo) => `${c.at} ms: ${c.from} -> ${SocketAddress.format(c.address)}`
 * const attempts = Effect.map(Effect.flatMap(MemoryNetwork.Control, (c) => c.connects), (all) => all.map(describe))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectInfo {
  /** When the attempt started, in `Clock` milliseconds. */
  readonly at: number
  readonly transport: Transport
  /** The host the attempt came from. */
  readonly from: string
  readonly address: SocketAddress.SocketAddress
}

/**
 * A bound listener or datagram endpoint.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, Tcp } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const program = Effect.gen(function* () {
 *   yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
 *   const listeners: ReadonlyArray<MemoryNetwork.ListenerInfo> = yield* (yield* MemoryNetwork.Control).listeners
 *   assert.strictEqual(listeners[0]?.transport, "tcp")
 * }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer()))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenerInfo {
  readonly transport: Transport
  readonly address: SocketAddress.SocketAddress
}

/**
 * Counters since the network was created.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const refused = Effect.flatMap(MemoryNetwork.Control, (c) => c.stats).pipe(
 *   Effect.map((stats: MemoryNetwork.Stats) => stats.connectionsRefused),
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Stream bytes accepted by `write`. */
  readonly bytesSent: number
  /** Stream bytes that reached the receiving socket. */
  readonly bytesDelivered: number
  readonly connectionsOpened: number
  readonly connectionsRefused: number
  readonly connectionsReset: number
  /** Stream segments lost (by the `loss` fault) and sent again after a retransmission timeout. */
  readonly retransmissions: number
  /**
   * Datagrams put on a link (UDP and Unix): a multicast or broadcast counts
   * once per receiving socket (once, and as dropped, when no socket
   * receives it).
   */
  readonly datagramsSent: number
  readonly datagramsDelivered: number
  readonly datagramsDropped: number
  readonly datagramsDuplicated: number
}

/**
 * Fault injection and observation of a running memory network.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const splitBrain = (control: MemoryNetwork.ControlService) =>
 *   Effect.gen(function* () {
 *     yield* control.partition("10.0.0.1", "10.0.0.2")
 *     yield* Effect.sleep("5 seconds")
 *     yield* control.heal
 *   })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ControlService {
  /** Replaces the global faults. */
  readonly setFaults: (faults: Faults) => Effect.Effect<void>
  /** Adds a link rule (it overrides earlier rules and the global faults for its fields). */
  readonly addLink: (rule: LinkRule) => Effect.Effect<void>
  /** Removes every fault and link rule (partitions stay; see {@link ControlService.heal}). */
  readonly clearFaults: Effect.Effect<void>
  /**
   * Cuts every link between a host of `a` and a host of `b`: connects and
   * stream bytes wait for {@link ControlService.heal} (as TCP retransmits),
   * datagrams vanish.
   */
  readonly partition: (a: string | ReadonlyArray<string>, b: string | ReadonlyArray<string>) => Effect.Effect<void>
  /** Removes every partition; waiting connects and stream bytes go on. */
  readonly heal: Effect.Effect<void>
  /** Resets the live connections that have `host` (address or name) at either end, or all; returns how many. */
  readonly reset: (host?: string) => Effect.Effect<number>
  /** Adds or replaces a name of the static resolver table. */
  readonly addHost: (name: string, addresses: string | ReadonlyArray<string>) => Effect.Effect<void>
  /** Removes a name from the static resolver table. */
  readonly removeHost: (name: string) => Effect.Effect<void>
  /** The live (not yet closed) sockets. */
  readonly sockets: Effect.Effect<ReadonlyArray<SocketInfo>>
  /** The bound listeners and datagram endpoints. */
  readonly listeners: Effect.Effect<ReadonlyArray<ListenerInfo>>
  /** Every connect attempt so far, in order, with its start time (e.g. to check happy-eyeballs timing). */
  readonly connects: Effect.Effect<ReadonlyArray<ConnectInfo>>
  /** The counters. */
  readonly stats: Effect.Effect<Stats>
  /**
   * Opens an in-memory file and returns its descriptor, for fd-passing
   * tests (`FdPassing.sendFds`, `FdPassing.toFileHandle` on the memory
   * network). A descriptor that still refers to this file is closed when
   * the Scope closes; copies sent to another socket live on, as on a
   * real system.
   */
  readonly openFile: (contents: string | Uint8Array) => Effect.Effect<number, never, import("effect/Scope").Scope>
  /**
   * How many virtual descriptors are open (TCP and Unix stream
   * connections, Unix datagram and fd-passing sockets, received
   * descriptors, files): for leak checks.
   */
  readonly descriptors: Effect.Effect<number>
  /**
   * The same network seen from another host: its outgoing connections
   * originate from `address` (for link rules and partitions). Views with
   * the same source addresses are the same host (for multicast loopback,
   * `setMulticastTtl(0)` and loopback broadcast).
   */
  readonly host: (address: string | { readonly ipv4?: string; readonly ipv6?: string }) => NetworkService
}

/**
 * The control handle of the memory network provided by {@link layer}.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const slow = Effect.flatMap(MemoryNetwork.Control, (c) => c.setFaults({ latency: "50 millis" }))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class Control extends Context.Tag("@netfx/core/MemoryNetwork/Control")<Control, ControlService>() {}

const asList = (x: string | ReadonlyArray<string>): ReadonlyArray<string> => (typeof x === "string" ? [x] : x)

/**
 * Builds a memory network in the current Scope: the `Network` service
 * and its {@link ControlService}. Most tests want {@link layer}.
 *
 * **Resource**: one delivery fiber, interrupted when the Scope closes.
 *
 * **Errors**: none.
 *
 * **Interruption**: not interruptible in a meaningful way (it only allocates).
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.map(MemoryNetwork.make({ hosts: { "db.test": "10.0.0.5" } }), ({ network }) => network.runtime),
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {},
): Effect.Effect<
  { readonly network: NetworkService; readonly control: ControlService },
  never,
  import("effect/Scope").Scope
> =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const scheduler = new Scheduler(clock)
    yield* Effect.forkScoped(scheduler.run)
    const net = new MemoryNet(scheduler, options)
    const fs = new UnixNamespace()
    const kernel = new Kernel(net, fs)
    const native = kernel.driver()
    const view = (v: View): NetworkService => ({
      runtime: "memory",
      resolver: net.resolver,
      tcp: tcpDriver(net, v),
      unix: unixDriver(net, fs, kernel),
      udp: udpDriver(net, v),
      tls: options.tls,
      native,
    })
    const control: ControlService = {
      setFaults: (faults) => Effect.sync(() => net.setGlobal(faults)),
      addLink: (rule) => Effect.sync(() => net.setLink(rule)),
      clearFaults: Effect.sync(() => net.clearFaults()),
      partition: (a, b) => Effect.sync(() => net.partition(asList(a), asList(b))),
      heal: Effect.sync(() => net.heal()),
      reset: (host) =>
        Effect.sync(() => {
          const hosts = host === undefined ? undefined : net.expand(host)
          const matching = [...net.sockets].filter((s) => {
            if (s.remoteAddress === undefined || s.transport === "udp" || s.transport === "unixDatagram") return false
            if (hosts === undefined) return true
            return [s.localAddress, s.remoteAddress].some((a) => "host" in a && hosts.includes(a.host.toLowerCase()))
          })
          // each connection appears twice (both ends); reset it once
          const done = new Set<unknown>()
          let count = 0
          for (const s of matching) {
            const peer = (s as { peer?: unknown }).peer
            if (done.has(s) || done.has(peer)) continue
            done.add(s)
            count++
            s.reset()
          }
          return count
        }),
      addHost: (name, addresses) => Effect.sync(() => net.addHost(name, asList(addresses))),
      removeHost: (name) => Effect.sync(() => net.removeHost(name)),
      sockets: Effect.sync(() =>
        [...net.sockets].map((s) => ({
          transport: s.transport,
          localAddress: s.localAddress,
          remoteAddress: s.remoteAddress,
          bytesSent: s.bytesSent,
          bytesReceived: s.bytesReceived,
        })),
      ),
      listeners: Effect.sync(() => [...net.listening].map((b) => ({ transport: b.transport, address: b.address }))),
      stats: Effect.sync(() => ({ ...net.stats })),
      openFile: (contents) =>
        Effect.acquireRelease(
          Effect.sync(() =>
            kernel.openFile(typeof contents === "string" ? new TextEncoder().encode(contents) : contents),
          ),
          ({ fd, owner }) => Effect.sync(() => kernel.closeIf(fd, owner)),
        ).pipe(Effect.map(({ fd }) => fd)),
      descriptors: Effect.sync(() => kernel.open),
      connects: Effect.sync(() => [...net.connects]),
      host: (address) =>
        view(typeof address === "string" ? (address.includes(":") ? { ipv6: address } : { ipv4: address }) : address),
    }
    return { network: view({}), control }
  })

/**
 * The memory network as a Layer providing `Network`, {@link Control} and
 * its static name table as `Resolver` (so `Resolver.getaddrinfo` works in
 * tests too). Each build is a fresh, empty network.
 *
 * **Resource**: the network lives as long as the Layer's Scope; one
 * delivery fiber runs in it.
 *
 * **Errors**: none. Inside, connects fail with `ConnectFailed`
 * (`ECONNREFUSED` when nothing listens, or by fault), names outside the
 * static table with `ResolveFailed` (`ENOTFOUND`), busy ports with
 * `ListenFailed` (`EADDRINUSE`), resets with `BrokenResource`
 * (`ECONNRESET`).
 *
 * **Interruption**: every operation on it is interruptible where the real
 * one is (a black-holed connect waits until interrupted).
 *
 * @example
 * ```ts
 * import { MemoryNetwork, Tcp } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
 *   const control = yield* MemoryNetwork.Control
 *   yield* control.setFaults({ latency: "50 millis" })
 *   return (yield* control.listeners).length
 * }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Network | Control | Resolver.Resolver> =>
  Layer.scopedContext(
    Effect.map(make(options), ({ network, control }) =>
      Context.make(Network, network).pipe(
        Context.add(Control, control),
        // the same name table as `Resolver` too, for `Resolver.getaddrinfo`
        Context.add(Resolver.Resolver, Resolver.make(network.resolver)),
      ),
    ),
  )
