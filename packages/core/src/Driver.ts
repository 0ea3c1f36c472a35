/**
 * The contract between netfx's platform-free core and a runtime (Node, Bun,
 * the in-memory network). A runtime adapts its native socket to
 * {@link RawConnection} / {@link RawListener}; core turns those into the
 * Effect-level {@link SocketStream.SocketStream} and {@link Listener.Listener}
 * with every contract (pull reads, bounded read-ahead, backpressured
 * writes, typed errors, interruption safety) implemented once.
 *
 * Users do not need this module unless they write a new transport.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { makeSystem } from "./internal/resolver/system.ts"
import { sniName, sniTable } from "./internal/sni.ts"
import { connectFailed } from "./internal/unix/address.ts"
import type { NativeAddon, NativeBinding } from "./NativeDriver.ts"
import {
  BrokenResource,
  type ConnectFailed,
  errnoOf,
  ListenFailed,
  OperationFailed,
  type TlsFailed,
  type Unsupported,
} from "./NetError.ts"
import type { ResolverService } from "./Resolver.ts"
import * as SocketAddress from "./SocketAddress.ts"
import type { PeerCertificate, TlsClientOptions, TlsCredentials, TlsServerOptions } from "./Tls.ts"

/**
 * Callbacks core installs on a {@link RawConnection} with `start`. A
 * runtime calls them from its own event callbacks; they never throw.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * // socket.on("data", (chunk) => handlers.onData(chunk))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionHandlers {
  /** Bytes arrived. The array is owned by core from now on. Never empty. */
  onData(chunk: Uint8Array): void
  /** The peer half-closed (FIN / EOF). */
  onEnd(): void
  /** The connection broke (reset, EPIPE, TLS failure, ...). */
  onError(error: BrokenResource): void
  /** The platform's write buffer drained below its mark after `write` returned false. */
  onDrain(): void
  /** The descriptor is gone (closed by either side, after end or error). */
  onClose(): void
}

/**
 * A connected byte-stream socket as a runtime exposes it.
 *
 * Rules for implementers:
 * - No event is delivered before `start`; events that happen earlier are
 *   held (Node: `pauseOnConnect`/paused socket) and delivered after it.
 * - `pause`/`resume` stop and restart reading from the kernel; core calls
 *   them to bound read-ahead.
 * - `write` takes ownership of the whole array (buffering what the kernel
 *   did not take) and returns `false` when the caller should wait for
 *   `onDrain` before writing more. `writev` (optional) does the same for
 *   several arrays in one system call where the runtime can.
 * - `shutdown` half-closes the writing side after pending writes are
 *   flushed (a real `shutdown(SHUT_WR)`, never a full close).
 * - `close` releases the descriptor; it is idempotent and must not throw.
 *   `unread` is true when received bytes were dropped unread: a layered
 *   protocol (TLS) then aborts instead of closing cleanly, as TCP resets.
 *
 * @example
 * ```ts
 * import { SocketStream, SocketAddress } from "@netfx/core"
 * import * as Driver from "@netfx/core/Driver"
 *
 * // the smallest RawConnection: a loopback that echoes what is written
 * const echo = (): Driver.RawConnection => {
 *   let h: Driver.ConnectionHandlers | undefined
 *   return {
 *     localAddress: SocketAddress.unixPath(""),
 *     remoteAddress: SocketAddress.unixPath(""),
 *     fd: undefined,
 *     extra: {},
 *     start: (handlers) => { h = handlers },
 *     pause: () => {},
 *     resume: () => {},
 *     write: (data) => { h?.onData(data.slice()); return true },
 *     shutdown: () => h?.onEnd(),
 *     close: () => h?.onClose(),
 *   }
 * }
 * const stream = SocketStream.make(echo())
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RawConnection {
  readonly localAddress: SocketAddress.SocketAddress
  readonly remoteAddress: SocketAddress.SocketAddress
  /** The OS descriptor where the runtime exposes one. */
  readonly fd: number | undefined
  /** Runtime-specific facts (TLS session facts, socket facts) by name; read by `Attribute` keys. */
  readonly extra: Readonly<Record<string, unknown>>
  /** The runtime's own socket object, for `Attribute.NativeHandle` (omit when there is none). */
  readonly handle?: unknown
  start(handlers: ConnectionHandlers): void
  pause(): void
  resume(): void
  write(data: Uint8Array): boolean
  /**
   * Writes several arrays in order as one write (`writev`), taking
   * ownership of them; same return value as `write`. Optional: without it
   * core concatenates and calls `write` once.
   */
  writev?(chunks: ReadonlyArray<Uint8Array>): boolean
  shutdown(): void
  close(unread?: boolean): void
}

/**
 * Callbacks core installs on a {@link RawListener} with `start`.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * // server.on("connection", (socket) => handlers.onConnection(adapt(socket)))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenerHandlers {
  /** A connection was accepted. It must not deliver data before its own `start`. */
  onConnection(connection: RawConnection): void
  /**
   * Accepting failed (EMFILE, ENFILE, ...); the listener keeps listening.
   * `retryIn`: the runtime stopped accepting and tries again after this
   * long (backing off while descriptors are exhausted).
   */
  onError(error: {
    readonly code: string
    readonly syscall?: string | undefined
    readonly cause: unknown
    readonly retryIn?: Duration.DurationInput | undefined
  }): void
}

/**
 * A listening socket as a runtime exposes it. Accepted connections go to
 * `onConnection` only after `start`; `close` stops listening and is
 * idempotent. Core wraps raw listeners with `Listener.make`.
 *
 * @example
 * ```ts
 * import { Listener } from "@netfx/core"
 * // const listener = yield* Listener.make([raw])  // raw: Driver.RawListener
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RawListener {
  readonly address: SocketAddress.SocketAddress
  readonly fd: number | undefined
  start(handlers: ListenerHandlers): void
  close(): void
}

/**
 * Backs a runtime listener off while the process is out of descriptors
 * (see `internal/acceptGuard.ts`). For runtime adapters.
 *
 * @internal
 */
export { guardListener } from "./internal/acceptGuard.ts"
/**
 * `Effect.acquireRelease` for a synchronous acquire and a release that
 * needs nothing from the fiber (closing a socket): registered directly in
 * the Scope, without the FiberRefs snapshot and patching `acquireRelease`
 * does (see `internal/scoped.ts`). For runtime adapters.
 *
 * @internal
 */
/**
 * Opens a handle synchronously, waits (interruptibly) until it is ready,
 * and registers its release in the Scope only then; a wait that fails or
 * is interrupted releases the handle at once and leaves nothing in the
 * Scope (a {@link UnixDriver} `connect`). For runtime adapters.
 *
 * @internal
 */
/**
 * Opens a handle synchronously and waits (interruptibly) until it is
 * ready, for a caller that owns the result: a wait that fails or is
 * interrupted releases the handle at once. What {@link TcpDriver} `connect`
 * is made of; the caller runs it uninterruptibly. For runtime adapters.
 *
 * @internal
 */
export { acquireOwned, acquireSync, acquireUntilReady } from "./internal/scoped.ts"

/**
 * The `restore` of the `Effect.uninterruptibleMask` core runs a
 * {@link TcpDriver} `connect` in: the driver wraps its waits in it, so they
 * are exactly as interruptible as the caller of `Tcp.connect` was (and not
 * at all inside the caller's own `Effect.uninterruptible`), while the rest
 * of the connect, the hand-over of the connection included, cannot be
 * interrupted.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import { Effect } from "effect"
 *
 * // a connect's wait for the runtime's 'connect' event
 * const waitConnected = (restore: Driver.Restore, connected: Effect.Effect<void>) => restore(connected)
 * ```
 *
 * @since 0.4.0
 * @category driver
 */
export type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/**
 * The address a runtime reports for a socket (`socket.remoteAddress`,
 * `remotePort`, `remoteFamily`, ...) as a `SocketAddress`: IPv6 when the
 * family says so (`"IPv6"`, `6`, `"6"`) or the host has a colon, IPv4
 * otherwise (with the `%zone` of a link-local IPv6 address kept as its scope
 * id); a missing or empty host (a Unix socket) is the unnamed Unix address.
 * Shared by the Node and Bun adapters.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import * as assert from "node:assert"
 *
 * assert.deepStrictEqual(Driver.addressFromRuntime("::1", 443, "IPv6")._tag, "Ipv6")
 * assert.deepStrictEqual(Driver.addressFromRuntime(undefined, undefined)._tag, "UnixPath")
 * ```
 *
 * @since 0.2.0
 * @category driver
 */
export const addressFromRuntime = (
  host: string | undefined,
  port: number | undefined,
  family?: string | number,
): SocketAddress.SocketAddress =>
  host === undefined || host === "" ? SocketAddress.unixPath("") : ipFromRuntime(host, port ?? 0, family)

/**
 * {@link addressFromRuntime} for a socket that is always IP (UDP): the host
 * is required and the result an IPv4 or IPv6 address. `family` may be the
 * runtime's family name or number, or `true` for IPv6.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 *
 * const peer = Driver.ipFromRuntime("fe80::1%2", 53, "IPv6") // Ipv6, scopeId 2
 * ```
 *
 * @since 0.2.0
 * @category driver
 */
export const ipFromRuntime = (
  host: string,
  port: number,
  family?: string | number | boolean,
): SocketAddress.Ipv4 | SocketAddress.Ipv6 =>
  SocketAddress.fromRuntime(
    sameHost(host),
    port,
    family === true || family === "IPv6" || family === 6 || family === "6" || host.includes(":"),
  )

/** The two hosts last seen, the most recent first. */
let recentHost = ""
let otherHost = ""

/**
 * `host`, or an equal string seen just before: runtimes make a new string
 * for every address they report, and every connection keeps two of them
 * (its local host, the same for all, and its peer's, often the same as the
 * previous one's). Reusing the earlier string keeps one copy instead.
 */
const sameHost = (host: string): string => {
  if (host === recentHost) return recentHost
  if (host === otherHost) {
    const found = otherHost
    otherHost = recentHost
    recentHost = found
    return found
  }
  otherHost = recentHost
  recentHost = host
  return host
}

/**
 * {@link ipFromRuntime} with a memo of the last address it built: a UDP
 * socket's datagrams mostly come from the same few peers (a connected
 * socket's all from one), so a receive path that calls this per datagram
 * builds an address object only when the sender changes. One per socket;
 * the addresses it returns are shared, as every `SocketAddress` is immutable.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 *
 * const senderOf = Driver.ipFromRuntimeCached()
 * const a = senderOf("127.0.0.1", 5353, "IPv4")
 * const b = senderOf("127.0.0.1", 5353, "IPv4") // the same object as `a`
 * ```
 *
 * @since 0.3.0
 * @category driver
 */
export const ipFromRuntimeCached = (): ((
  host: string,
  port: number,
  family?: string | number | boolean,
) => SocketAddress.Ipv4 | SocketAddress.Ipv6) => {
  let lastHost: string | undefined
  let lastPort = -1
  let lastFamily: string | number | boolean | undefined
  let last: SocketAddress.Ipv4 | SocketAddress.Ipv6 | undefined
  return (host, port, family) => {
    if (last !== undefined && port === lastPort && host === lastHost && family === lastFamily) return last
    lastHost = host
    lastPort = port
    lastFamily = family
    last = ipFromRuntime(host, port, family)
    return last
  }
}
/**
 * A runtime error as the `BrokenResource` a {@link ConnectionHandlers}
 * `onError` takes: the errno code and syscall (`NetError.errnoOf`), the
 * operation and the peer address, the error as `cause`.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 *
 * const error = Driver.brokenFrom("receive", Object.assign(new Error("reset"), { code: "ECONNRESET", syscall: "read" }))
 * // error.code === "ECONNRESET"
 * ```
 *
 * @since 0.2.0
 * @category driver
 */
export const brokenFrom = (
  operation: string,
  error: unknown,
  address?: SocketAddress.SocketAddress,
): BrokenResource => {
  const { code, syscall } = errnoOf(error)
  return new BrokenResource({ operation, code, syscall, address, cause: error })
}

/**
 * The errno facts of a runtime error with the error itself as `cause`: the
 * shape the UDP callbacks of a {@link RawUdpSocket} report.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 *
 * const failure = Driver.errnoWithCause(Object.assign(new Error("no route"), { code: "EHOSTUNREACH", syscall: "send" }))
 * // { code: "EHOSTUNREACH", syscall: "send", cause: Error }
 * ```
 *
 * @since 0.2.0
 * @category driver
 */
export const errnoWithCause = (
  error: unknown,
): { readonly code: string; readonly syscall?: string | undefined; readonly cause: unknown } => ({
  ...errnoOf(error),
  cause: error,
})

/**
 * A descriptor a runtime exposes on a handle object (`handle.fd`), or
 * `undefined` when it is missing, not a number or negative (closed, or a
 * runtime that does not expose it).
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 *
 * Driver.fdOf({ fd: 12 }) // 12
 * Driver.fdOf({ fd: -1 }) // undefined
 * Driver.fdOf(undefined) // undefined
 * ```
 *
 * @since 0.2.0
 * @category driver
 */
export const fdOf = (handle: { readonly fd?: unknown } | null | undefined): number | undefined => {
  const fd = handle?.fd
  return typeof fd === "number" && fd >= 0 ? fd : undefined
}

/**
 * Whether a Node version (`process.versions.node`) sets `SO_REUSEPORT` itself
 * (`reusePort` of `net.Server.listen` and `dgram.createSocket`): from Node
 * 22.12 and 23.1 on. Before, the Node adapter opens the socket through the
 * addon.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 *
 * Driver.nodeHasReusePort("22.12.0") // true
 * Driver.nodeHasReusePort("20.18.1") // false
 * ```
 *
 * @since 0.2.0
 * @category driver
 */
export const nodeHasReusePort = (version: string): boolean => {
  const [major = 0, minor = 0] = version.split(".").map(Number)
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12)
}

/**
 * The addon-backed driver (`@netfx/native`): its binding, addresses and
 * file operations, as `Driver.NativeDriver`. For runtime adapters.
 *
 * @example
 * ```ts
 * import { NativeDriver } from "@netfx/core/Driver"
 *
 * const reason = NativeDriver.missingAddonReason("not built", "linux")
 * ```
 *
 * @since 0.2.0
 * @category driver
 */
export * as NativeDriver from "./NativeDriver.ts"

// ---------------------------------------------------------------------------
// Resolver
// ---------------------------------------------------------------------------

/**
 * The part of a `node:dns`-compatible module the system resolver uses
 * (Node's `node:dns`, Bun's native `node:dns`).
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import * as dns from "node:dns"
 *
 * const dnsModule: Driver.DnsModule = dns
 * const system = Driver.makeSystemResolver(dnsModule)
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface DnsModule {
  readonly ADDRCONFIG: number
  readonly V4MAPPED: number
  readonly ALL: number
  readonly lookup: (
    hostname: string,
    options: { all: true; family: number; hints: number; verbatim: boolean },
    callback: (error: Error | null, addresses: Array<{ address: string; family: number }>) => void,
  ) => void
  readonly lookupService: (
    address: string,
    port: number,
    callback: (error: Error | null, hostname: string, service: string) => void,
  ) => void
}

/**
 * The system resolver — getaddrinfo(3) / getnameinfo(3), honouring
 * /etc/hosts and nsswitch — over a `node:dns`-compatible module
 * (`dns.lookup` with `all`, `verbatim`; `dns.lookupService`). This is what
 * `NodeNetwork.layerResolver` and `BunNetwork.layerResolver` are; it lives
 * in the driver tier so both runtimes share it (users get it from those
 * layers; `Resolver` has what they build resolvers with). Wrapped with the
 * front (`Resolver.make`): `AI_ADDRCONFIG`, `AI_V4MAPPED` and `AI_ALL`
 * reach the platform, the other flags are applied by the front. `node:dns` does not expose `ai_canonname`, so
 * `AI_CANONNAME` reports the name asked for (after IDNA), not a CNAME
 * target; `NI_DGRAM` is not passed (services are looked up as TCP).
 * Service names (`Resolver.getaddrinfo(host, "https")`) come from the
 * services database `readServices` returns (`/etc/services`, read once on
 * first use); without it, or when it cannot be read, from
 * `Resolver.wellKnownService`.
 *
 * **Errors** (of the service): `ResolveFailed` with the platform's code
 * (`ENOTFOUND` for EAI_NONAME, `EAI_AGAIN`, `EAI_FAIL`, ...).
 *
 * **Interruption**: the platform lookup cannot be cancelled; it finishes in
 * libuv's thread pool and its result is dropped.
 *
 * @example
 * ```ts
 * import * as dns from "node:dns"
 * import * as fs from "node:fs"
 * import * as Driver from "@netfx/core/Driver"
 *
 * const system = Driver.makeSystemResolver(dns, () => fs.promises.readFile("/etc/services", "utf8"))
 * ```
 *
 * @since 0.3.0
 * @category driver
 */
export const makeSystemResolver = (dns: DnsModule, readServices?: () => Promise<string | undefined>): ResolverService =>
  makeSystem(dns, readServices)

// ---------------------------------------------------------------------------
// Tcp
// ---------------------------------------------------------------------------

/**
 * One connection attempt, as core asks a runtime's TCP driver for it.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import { SocketAddress } from "@netfx/core"
 *
 * const request: Driver.ConnectRequest = {
 *   address: SocketAddress.ipv4("127.0.0.1", 8080),
 *   noDelay: true,
 *   keepAlive: false,
 *   keepAliveInitialDelay: 0,
 * }
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface ConnectRequest {
  readonly address: SocketAddress.Ipv4 | SocketAddress.Ipv6
  readonly localHost?: string | undefined
  readonly localPort?: number | undefined
  readonly noDelay: boolean
  readonly keepAlive: boolean
  /** TCP_KEEPIDLE when `keepAlive`; zero keeps the system's default. */
  readonly keepAliveInitialDelay: Duration.DurationInput
}

/**
 * One bind + listen, as core asks a runtime's TCP driver for it.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import { SocketAddress } from "@netfx/core"
 *
 * const request: Driver.ListenRequest = {
 *   address: SocketAddress.ipv6("::", 0),
 *   backlog: 511,
 *   reusePort: false,
 *   ipv6Only: true,
 *   noDelay: true,
 *   keepAlive: true,
 *   keepAliveInitialDelay: "60 seconds",
 * }
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface ListenRequest {
  readonly address: SocketAddress.Ipv4 | SocketAddress.Ipv6
  readonly backlog: number
  readonly reusePort: boolean
  /** IPV6_V6ONLY for IPv6 addresses (always true for dual-stack listeners). */
  readonly ipv6Only: boolean
  /** TCP_NODELAY on accepted sockets. */
  readonly noDelay: boolean
  /** SO_KEEPALIVE on accepted sockets (absent: off). */
  readonly keepAlive?: boolean | undefined
  /** TCP_KEEPIDLE for accepted sockets when `keepAlive`; 0 or absent keeps the system's default. */
  readonly keepAliveInitialDelay?: Duration.DurationInput | undefined
}

/**
 * What a runtime implements for TCP.
 *
 * `connect` hands its connection to the caller instead of registering it
 * in a Scope: core runs it **uninterruptibly**, inside
 * `Effect.uninterruptibleMask`, and passes that mask's `restore`; the
 * runtime wraps only its waits in `restore` (`Driver.acquireOwned` does),
 * so they are as interruptible as the caller of `Tcp.connect` was, and when
 * a wait fails or is interrupted it releases everything it opened before
 * it returns. A connection it returns belongs to the
 * caller, who releases it with its `close` (core does, when the Scope of
 * `Tcp.connect` closes or `Tcp.withConnection` ends). So core can put a
 * connection in a Scope or in a bracket without a Scope, in one step
 * nothing can interrupt. `listen` registers its socket in the Scope
 * *before* it waits, so interruption never leaks it.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import { SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // wraps a runtime's driver to log every attempt
 * const logged = (inner: Driver.TcpDriver): Driver.TcpDriver => ({
 *   connect: (request, restore) =>
 *     Effect.zipRight(Effect.log(`connect ${SocketAddress.format(request.address)}`), inner.connect(request, restore)),
 *   listen: inner.listen,
 * })
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface TcpDriver {
  /**
   * Connects to one numeric address; fails with a one-attempt
   * `ConnectFailed`. Run uninterruptibly by core; interruptible only while
   * it waits, and then it releases what it opened (see above). Since
   * 0.4.0 it needs no Scope: the caller owns the connection and closes it.
   */
  readonly connect: (
    request: ConnectRequest,
    /** Wraps the waits (absent, from a caller that did not pass it: `Effect.interruptible`). */
    restore?: Restore,
  ) => Effect.Effect<RawConnection, ConnectFailed>
  /**
   * @deprecated Since 0.4.0 every `connect` releases what it opened when it
   * fails or is interrupted (see {@link TcpDriver}); core ignores this.
   */
  readonly releasesOnFailure?: boolean | undefined
  /** Binds and listens on one numeric address. */
  readonly listen: (request: ListenRequest) => Effect.Effect<RawListener, ListenFailed | Unsupported, Scope.Scope>
}

// ---------------------------------------------------------------------------
// Udp
// ---------------------------------------------------------------------------

/**
 * A socket option core asks a runtime to set ({@link RawUdpSocket.setOption}),
 * from the option methods of `Udp.UdpSocket` (`setTtl`, `joinGroup`, ...).
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 *
 * const join: Driver.UdpOption = { _tag: "JoinGroup", group: "239.255.255.250", interface: "192.168.1.10" }
 * const hops: Driver.UdpOption = { _tag: "MulticastTtl", ttl: 4 }
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export type UdpOption =
  | { readonly _tag: "Broadcast"; readonly enabled: boolean }
  | { readonly _tag: "Ttl"; readonly ttl: number }
  | { readonly _tag: "MulticastTtl"; readonly ttl: number }
  | { readonly _tag: "MulticastLoopback"; readonly enabled: boolean }
  | { readonly _tag: "MulticastInterface"; readonly address: string }
  | {
      readonly _tag: "JoinGroup" | "LeaveGroup"
      readonly group: string
      readonly interface?: string | undefined
      readonly source?: string | undefined
    }

/**
 * Callbacks core gives a runtime's UDP driver with the bind request.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import type { Udp } from "@netfx/core"
 *
 * const received: Array<Udp.Received> = []
 * const handlers: Driver.UdpHandlers = {
 *   onMessage: (data, address) => {
 *     received.push({ data, address, truncated: false })
 *   },
 *   onError: (error) => console.warn(error.code),
 * }
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface UdpHandlers {
  /** A datagram arrived. The array is owned by core from now on (may be empty). */
  onMessage(data: Uint8Array, address: SocketAddress.Ipv4 | SocketAddress.Ipv6): void
  /** An asynchronous socket error (ICMP errors on a connected socket: `ECONNREFUSED`, ...). */
  onError(error: { readonly code: string; readonly syscall?: string | undefined; readonly cause: unknown }): void
}

/**
 * One UDP socket as core asks a runtime for it: a numeric local address,
 * options that must be set before `bind`, and optionally a peer to
 * `connect` to.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import { SocketAddress } from "@netfx/core"
 *
 * const request: Driver.UdpBindRequest = {
 *   address: SocketAddress.ipv4("0.0.0.0", 0),
 *   reusePort: false,
 *   reuseAddress: false,
 *   ipv6Only: false,
 *   handlers: { onMessage: () => {}, onError: () => {} },
 * }
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface UdpBindRequest {
  readonly address: SocketAddress.Ipv4 | SocketAddress.Ipv6
  /** connect(2) to this peer after binding. */
  readonly connect?: SocketAddress.Ipv4 | SocketAddress.Ipv6 | undefined
  readonly reusePort: boolean
  readonly reuseAddress: boolean
  /** IPV6_V6ONLY, for IPv6 addresses. */
  readonly ipv6Only: boolean
  readonly receiveBufferSize?: number | undefined
  readonly sendBufferSize?: number | undefined
  /** Installed before the socket can receive anything. */
  readonly handlers: UdpHandlers
}

/**
 * A bound UDP socket as a runtime exposes it.
 *
 * Rules for implementers:
 * - `send` calls `callback` exactly once, when the runtime accepted the
 *   datagram or with the errno facts when it refused it; it must not throw.
 *   A runtime whose socket says "not now" holds the datagram and retries on
 *   drain. Core never has more sends in flight than fibers sending.
 * - `setOption` is synchronous and returns the error (or `undefined`).
 * - `close` is idempotent and must not throw; callbacks after it are ignored.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import { SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const sendRaw = (socket: Driver.RawUdpSocket, data: Uint8Array) =>
 *   Effect.async<void, string>((resume) => {
 *     socket.send(data, SocketAddress.ipv4("127.0.0.1", 9), (error) =>
 *       resume(error === undefined ? Effect.void : Effect.fail(error.code)),
 *     )
 *   })
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface RawUdpSocket {
  readonly localAddress: SocketAddress.Ipv4 | SocketAddress.Ipv6
  readonly remoteAddress: SocketAddress.Ipv4 | SocketAddress.Ipv6 | undefined
  readonly fd: number | undefined
  /** `address` is `undefined` on a connected socket. */
  send(
    data: Uint8Array,
    address: SocketAddress.Ipv4 | SocketAddress.Ipv6 | undefined,
    callback: (
      error: { readonly code: string; readonly syscall?: string | undefined; readonly cause: unknown } | undefined,
    ) => void,
  ): void
  setOption(option: UdpOption): OperationFailed | Unsupported | undefined
  close(): void
}

/**
 * What a runtime implements for UDP (the `udp` field of `NetworkService`).
 * `bind` registers the socket in the given Scope before it waits, so
 * interruption never leaks it.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import { NetError } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // a driver for a sandbox without UDP
 * const noUdp: Driver.UdpDriver = {
 *   bind: () => Effect.fail(new NetError.Unsupported({ feature: "UDP", runtime: "sandbox", reason: "no sockets" })),
 * }
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface UdpDriver {
  /**
   * Wake a waiting receiver once per event-loop turn (with `setImmediate`,
   * after the poll phase) instead of once per datagram, so that one wake-up
   * hands over every datagram that arrived in that turn. For runtimes that
   * deliver each datagram in its own callback followed by a microtask
   * checkpoint (Node's and Bun's UDP sockets). Default false: wake at once.
   */
  readonly coalesceWakeups?: boolean
  readonly bind: (
    request: UdpBindRequest,
  ) => Effect.Effect<RawUdpSocket, ListenFailed | ConnectFailed | Unsupported, Scope.Scope>
}

/**
 * The option setters `node:dgram` sockets and `Bun.udpSocket` sockets share
 * (what {@link applyOption} calls). A setter fails by throwing, or — as Bun's
 * interface and membership setters do — by returning `false`.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import * as dgram from "node:dgram"
 *
 * const setters: Driver.OptionSetters = dgram.createSocket("udp4")
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface OptionSetters {
  setBroadcast(enabled: boolean): unknown
  setTTL(ttl: number): unknown
  setMulticastTTL(ttl: number): unknown
  setMulticastLoopback(enabled: boolean): unknown
  setMulticastInterface(address: string): unknown
  addMembership(group: string, iface?: string): unknown
  dropMembership(group: string, iface?: string): unknown
  addSourceSpecificMembership(source: string, group: string, iface?: string): unknown
  dropSourceSpecificMembership(source: string, group: string, iface?: string): unknown
}

/**
 * Applies one {@link UdpOption} through a runtime socket's setters: what a
 * runtime's `RawUdpSocket.setOption` does on Node and on Bun.
 *
 * **Errors** (returned, not thrown): `OperationFailed` with the errno when
 * the setter throws, or `EUNKNOWN` when it returns `false` for an
 * interface or membership change.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import { SocketAddress } from "@netfx/core"
 * import * as dgram from "node:dgram"
 *
 * const socket = dgram.createSocket("udp4")
 * socket.bind(0, "127.0.0.1", () => {
 *   const error = Driver.applyOption(socket, { _tag: "Broadcast", enabled: true }, SocketAddress.ipv4("127.0.0.1", 0))
 *   socket.close()
 *   if (error !== undefined) throw error
 * })
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export const applyOption = (
  socket: OptionSetters,
  option: UdpOption,
  address: SocketAddress.SocketAddress,
): OperationFailed | undefined => {
  const operation = `set ${option._tag}`
  try {
    // only these setters report failure with `false` (Bun); the others return the value set
    let result: unknown
    switch (option._tag) {
      case "Broadcast":
        socket.setBroadcast(option.enabled)
        return undefined
      case "Ttl":
        socket.setTTL(option.ttl)
        return undefined
      case "MulticastTtl":
        socket.setMulticastTTL(option.ttl)
        return undefined
      case "MulticastLoopback":
        socket.setMulticastLoopback(option.enabled)
        return undefined
      case "MulticastInterface":
        // an interface that is no IP address is node:dgram's EINVAL on every runtime
        // (Bun's setter returns false without an errno, or reads "10.9.9" as 10.9.0.9)
        if (SocketAddress.numericFamily(option.address.split("%")[0] ?? "") === 0)
          return new OperationFailed({ operation, code: "EINVAL", address, cause: "not an IP address" })
        result = socket.setMulticastInterface(option.address)
        break
      case "JoinGroup":
        result =
          option.source !== undefined
            ? socket.addSourceSpecificMembership(option.source, option.group, option.interface)
            : socket.addMembership(option.group, option.interface)
        break
      case "LeaveGroup":
        result =
          option.source !== undefined
            ? socket.dropSourceSpecificMembership(option.source, option.group, option.interface)
            : socket.dropMembership(option.group, option.interface)
        break
    }
    return result === false
      ? new OperationFailed({ operation, code: "EUNKNOWN", address, cause: "the runtime's setter returned false" })
      : undefined
  } catch (error) {
    const { code, syscall } = errnoOf(error)
    return new OperationFailed({ operation, code, syscall, address, cause: error })
  }
}

// ---------------------------------------------------------------------------
// Tls
// ---------------------------------------------------------------------------

/**
 * A peer certificate as `node:tls` reports it (`getPeerCertificate()`;
 * Bun's TLS sockets report the same shape): what {@link peerCertificateOf}
 * converts.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import type * as tls from "node:tls"
 *
 * const raw = (socket: tls.TLSSocket): Driver.RuntimePeerCertificate => socket.getPeerCertificate(false)
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface RuntimePeerCertificate {
  readonly subject?: unknown
  readonly issuer?: unknown
  readonly subjectaltname?: string | undefined
  readonly valid_from?: string | undefined
  readonly valid_to?: string | undefined
  readonly serialNumber?: string | undefined
  readonly fingerprint256?: string | undefined
  readonly raw?: Uint8Array | undefined
}

const certField = (v: unknown): string => (Array.isArray(v) ? v.join(", ") : String(v))
const certFields = (o: unknown): Record<string, string> => {
  const out: Record<string, string> = {}
  if (typeof o === "object" && o !== null) for (const [k, v] of Object.entries(o)) out[k] = certField(v)
  return out
}

/**
 * Converts a runtime's peer certificate into a {@link PeerCertificate}
 * (repeated subject fields joined with `, `); `None` when there is no
 * certificate (an empty object or `null`, as the runtimes report it). For
 * runtime adapters (`NodeNetwork`, `BunNetwork`).
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import { Option } from "effect"
 * import * as assert from "node:assert"
 *
 * assert.ok(Option.isNone(Driver.peerCertificateOf({})))
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export const peerCertificateOf = (c: RuntimePeerCertificate | null | undefined): Option.Option<PeerCertificate> =>
  c === null || c === undefined || c.raw === undefined
    ? Option.none()
    : Option.some({
        subject: certFields(c.subject),
        issuer: certFields(c.issuer),
        subjectAltNames: c.subjectaltname === undefined ? [] : c.subjectaltname.split(", "),
        validFrom: new Date(c.valid_from ?? 0),
        validTo: new Date(c.valid_to ?? 0),
        serialNumber: c.serialNumber ?? "",
        fingerprint256: c.fingerprint256 ?? "",
        der: new Uint8Array(c.raw),
      })

/**
 * The credentials a server presents for an SNI name: `sniCallback`'s
 * choice, else the `sniContexts` entry for the name (keys and name compared
 * after IDNA normalisation, case-insensitively, without a trailing dot),
 * else the one for `*.` + the name without its first label; `undefined`
 * means the default credentials. For runtime TLS drivers, so every runtime
 * chooses alike.
 *
 * **Errors**: none (an exception thrown by `sniCallback` propagates to the
 * driver, which fails that handshake).
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import { Tls } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const shop = { cert: "<cert pem>", key: "<key pem>" }
 * const options: Tls.TlsServerOptions = { cert: "<cert pem>", key: "<key pem>", sniContexts: { "*.bücher.example": shop } }
 * assert.strictEqual(Driver.credentialsFor(options, "www.xn--bcher-kva.example"), shop)
 * assert.strictEqual(Driver.credentialsFor(options, "xn--bcher-kva.example"), undefined)
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export const credentialsFor = (options: TlsServerOptions, serverName: string): TlsCredentials | undefined => {
  const chosen = options.sniCallback?.(serverName)
  if (chosen !== undefined || options.sniContexts === undefined) return chosen
  const name = sniName(serverName)
  if (name === undefined) return undefined
  const table = sniTable(options.sniContexts)
  const exact = table.get(name)
  if (exact !== undefined) return exact
  const dot = name.indexOf(".")
  return dot > 0 ? table.get(`*${name.slice(dot)}`) : undefined
}

/**
 * What a runtime's TLS driver receives for a client handshake.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 *
 * const request: Driver.ClientRequest = { host: "localhost", serverName: "localhost" }
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface ClientRequest extends TlsClientOptions {
  /** The host the certificate is checked against (SNI unless numeric). */
  readonly host: string
}

/**
 * What a runtime implements for TLS. Both functions take an unstarted
 * {@link RawConnection} (ciphertext) and return a new one (cleartext) after
 * a successful handshake; the new one owns the old (closing it closes the
 * old). Both register what they create in the Scope before waiting, so an
 * interrupted handshake closes everything. Failures are `TlsFailed` with
 * the platform's code and the peer address; on failure the raw connection
 * is closed. The optional `connectOwned` and `acceptNow` do the same
 * handshakes without a Scope, for callers that own the result.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import { NetError } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // a runtime without TLS says so, precisely
 * const none: Driver.TlsDriver = {
 *   unsupported: new NetError.Unsupported({ feature: "TLS", runtime: "memory", reason: "no TLS in memory" }),
 *   connect: () => Effect.dieMessage("unreachable"),
 *   accept: () => Effect.dieMessage("unreachable"),
 * }
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface TlsDriver {
  /**
   * Set when this runtime cannot provide TLS that meets the contract:
   * `Tcp.connect({ tls })`, `Tcp.listen({ tls })` and `wrap` then fail
   * with it (saying why) instead of calling `connect`/`accept`.
   */
  readonly unsupported?: Unsupported | undefined
  readonly connect: (raw: RawConnection, request: ClientRequest) => Effect.Effect<RawConnection, TlsFailed, Scope.Scope>
  /**
   * Optional: `connect` for a caller that owns the result, without a
   * Scope (what core uses for `Tcp.connect` and `Tcp.withConnection` to a
   * numeric host when present: one release instead of one per layer).
   * It takes over `raw` at once. Core runs it uninterruptibly and passes
   * the `restore` of its mask, which wraps the handshake's waits; when
   * the handshake fails or is interrupted, everything it opened, `raw`
   * included, is closed before it returns (a synchronous failure, such as
   * credentials that cannot be parsed, is a `TlsFailed` too). The
   * connection it returns belongs to the caller, whose `close` ends the
   * session (close_notify unless data was left unread) and then closes
   * `raw` once the session is done with it, in the background: the
   * caller closes nothing else and waits for nothing. The request's
   * `handshakeTimeout` is applied by core, not here.
   */
  readonly connectOwned?:
    | ((raw: RawConnection, request: ClientRequest, restore?: Restore) => Effect.Effect<RawConnection, TlsFailed>)
    | undefined
  readonly accept: (
    raw: RawConnection,
    options: TlsServerOptions,
  ) => Effect.Effect<RawConnection, TlsFailed, Scope.Scope>
  /**
   * Optional: `accept` without the Effect runtime, which a TLS listener
   * uses for its per-connection handshakes when present (no fiber and no
   * Scope per connection). Starts the handshake on `raw` and calls `done`
   * exactly once: with the established connection, or with the
   * `TlsFailed` once everything the handshake opened (the raw connection
   * included) is closed. The returned function abandons a handshake in
   * progress: it closes everything it opened, and `done` is not called
   * after it; once `done` ran it does nothing. The same checks as
   * `accept` apply: a connection `accept` would fail (an unauthorized
   * client certificate, ...) is a failure here too.
   */
  readonly acceptNow?:
    | ((
        raw: RawConnection,
        options: TlsServerOptions,
        done: (result: Either.Either<RawConnection, TlsFailed>) => void,
      ) => () => void)
    | undefined
}

// ---------------------------------------------------------------------------
// Unix
// ---------------------------------------------------------------------------

/**
 * What a path in the file system currently is, as a driver reports it
 * ({@link UnixDriver.pathKind}).
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import { Effect } from "effect"
 * import * as fs from "node:fs"
 * import * as assert from "node:assert"
 *
 * const kind: Driver.PathKind = Effect.runSync(Driver.makePathOps(fs).pathKind("/nonexistent/app.sock"))
 * assert.strictEqual(kind._tag, "Missing")
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export type PathKind =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Socket"; readonly ino: number }
  | { readonly _tag: "Other"; readonly kind: string }

/**
 * What a runtime implements for Unix stream sockets.
 *
 * `connect` hands its connection to the caller, exactly as a
 * {@link TcpDriver} `connect` does (since 0.5.0): core runs it
 * uninterruptibly and passes the `restore` its waits run in; a wait that
 * fails or is interrupted releases everything it opened before `connect`
 * returns, and a connection it returns belongs to the caller, who closes
 * it. `listen` registers its socket in the Scope before it waits.
 *
 * @example
 * ```ts
 * import type * as Driver from "@netfx/core/Driver"
 * import { Network, type Unix } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const unix = Network.driver("unix", "Unix sockets")
 * const kind = Effect.flatMap(unix, (driver: Driver.UnixDriver) => driver.pathKind("/run/app.sock"))
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface UnixDriver {
  /**
   * Connects to one address; fails with a one-attempt `ConnectFailed`. Run
   * uninterruptibly by core; interruptible only while it waits, and then it
   * releases what it opened (see above). Since 0.5.0 it needs no Scope: the
   * caller owns the connection and closes it.
   */
  readonly connect: (
    address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
    /** Wraps the waits (absent, from a caller that did not pass it: `Effect.interruptible`). */
    restore?: Restore,
  ) => Effect.Effect<RawConnection, ConnectFailed>
  /** Binds and listens; fails with `ListenFailed` carrying the bind errno. */
  readonly listen: (request: {
    readonly address: SocketAddress.UnixPath | SocketAddress.UnixAbstract
    readonly backlog: number
  }) => Effect.Effect<RawListener, ListenFailed, Scope.Scope>
  /** `lstat` of a path, without following symlinks. */
  readonly pathKind: (path: string) => Effect.Effect<PathKind>
  /** Removes a file; errors are ignored. */
  readonly unlink: (path: string) => Effect.Effect<void>
  /** Applies permission bits to a path. */
  readonly chmod: (path: string, mode: number) => Effect.Effect<void, ListenFailed>
}

/**
 * The synchronous half of `node:fs` that {@link makePathOps} needs; Node and
 * Bun both provide it (pass `import * as fs from "node:fs"`).
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import * as fs from "node:fs"
 *
 * const sync: Driver.FsSync = fs
 * const ops = Driver.makePathOps(sync)
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface FsSync {
  lstatSync(path: string): {
    readonly ino: number
    isSocket(): boolean
    isDirectory(): boolean
    isFile(): boolean
  }
  unlinkSync(path: string): void
  chmodSync(path: string, mode: number): void
  linkSync(existingPath: string, newPath: string): void
}

/**
 * The path operations of a {@link UnixDriver} (`pathKind`, `unlink`,
 * `chmod`), written once for every runtime over its `node:fs`.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import * as fs from "node:fs"
 *
 * const { pathKind, unlink, chmod } = Driver.makePathOps(fs)
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export const makePathOps = (fs: FsSync): Pick<UnixDriver, "pathKind" | "unlink" | "chmod"> => ({
  pathKind: (path) =>
    Effect.sync((): PathKind => {
      try {
        const st = fs.lstatSync(path)
        if (st.isSocket()) return { _tag: "Socket", ino: st.ino }
        return { _tag: "Other", kind: st.isDirectory() ? "directory" : st.isFile() ? "file" : "other" }
      } catch {
        return { _tag: "Missing" }
      }
    }),
  unlink: (path) =>
    Effect.sync(() => {
      try {
        fs.unlinkSync(path)
      } catch {
        // already gone
      }
    }),
  chmod: (path, mode) =>
    Effect.try({
      try: () => fs.chmodSync(path, mode),
      catch: (error) => new ListenFailed({ address: SocketAddress.unixPath(path), ...errnoOf(error), cause: error }),
    }),
})

/**
 * Runs a runtime's listener `close` while keeping its socket file: libuv
 * (Node) and Bun unlink a listener's path when it closes, but whether the
 * file goes is core's decision (`Unix.listen`'s `removeOnClose`). The file
 * is kept through a temporary hard link and put back, never replacing a
 * newer socket that somebody bound at the path meanwhile. Abstract names
 * have no file. For the `listen` of a {@link UnixDriver}.
 *
 * **Errors**: none (file system failures only mean there is nothing to keep).
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import { SocketAddress } from "@netfx/core"
 * import * as fs from "node:fs"
 *
 * Driver.closeKeepingFile(fs, SocketAddress.unixPath("/tmp/app.sock"), () => {
 *   // server.close()
 * })
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export const closeKeepingFile = (
  fs: FsSync,
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  close: () => void,
): void => {
  if (address._tag !== "UnixPath") {
    close()
    return
  }
  const path = address.path
  const keep = `${path}.netfx-${process.pid}-${Date.now()}`
  let linked = false
  try {
    fs.linkSync(path, keep)
    linked = true
  } catch {
    // the file is gone or the directory is not writable: nothing to keep
  }
  close()
  if (!linked) return
  try {
    fs.linkSync(keep, path) // never replaces a newer socket at the path
  } catch {
    // somebody bound the path meanwhile: theirs wins
  }
  try {
    fs.unlinkSync(keep)
  } catch {
    // nothing left to clean
  }
}

/**
 * The `ConnectFailed` a {@link UnixDriver}'s `connect` fails with: one
 * attempt at `address` with the errno `code`, `host` the formatted address
 * and `port` -1, as `Unix.connect` reports it on every runtime.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const error = Driver.unixConnectFailed(SocketAddress.unixPath("/run/app.sock"), "ENOENT", "connect", undefined)
 * assert.strictEqual(error.attempts[0]?.code, "ENOENT")
 * assert.strictEqual(error.port, -1)
 * ```
 *
 * @since 0.3.0
 * @category driver
 */
export const unixConnectFailed = (
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  code: string,
  syscall: string | undefined,
  cause: unknown,
): ConnectFailed => connectFailed(address, code, syscall, cause)

/**
 * Opens a Unix stream socket with the `@netfx/native` addon, connects it
 * to `address` with its exact length (so abstract names reach every other
 * program; node:net before Node 22 pads them to 108 bytes), and hands the
 * connected descriptor to `adopt`, which wraps it in the runtime's socket.
 * For the `connect` of a {@link UnixDriver} whose runtime mangles abstract
 * names; like that `connect`, run uninterruptibly with the `restore` of its
 * caller's mask (see {@link Restore}).
 *
 * **Resource**: the caller owns what `adopt` returned. The descriptor is
 * closed when connecting fails or is interrupted, or when `adopt` fails;
 * once `adopt` succeeded, the runtime's socket owns it. Nothing is put in
 * a Scope.
 *
 * **Errors**: {@link unixConnectFailed} with the errno of `socket` or
 * `connect`; a full backlog (`EAGAIN`) is retried with a short, growing
 * delay (Linux has no readiness for it); whatever `adopt` fails with.
 *
 * **Interruption**: only the waits for room in a full backlog run in
 * `restore`; interrupted there, the descriptor is closed. `adopt` runs as
 * its caller does (uninterruptibly, under core).
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import { SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const connectAbstract = (
 *   native: { addon: Driver.NativeDriver.NativeAddon; binding: Driver.NativeDriver.NativeBinding },
 *   restore?: Driver.Restore,
 * ) =>
 *   Driver.connectUnixNative(
 *     native.addon,
 *     native.binding,
 *     SocketAddress.unixAbstract("app"),
 *     (fd) => Effect.succeed(fd), // a runtime adopts the descriptor here (`new net.Socket({ fd })`)
 *     restore,
 *   )
 * ```
 *
 * @since 0.3.0
 * @category driver
 */
export const connectUnixNative = <A, E>(
  addon: NativeAddon,
  binding: NativeBinding,
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  adopt: (fd: number) => Effect.Effect<A, E>,
  restore: Restore = Effect.interruptible,
): Effect.Effect<A, ConnectFailed | E> =>
  Effect.suspend(() => {
    const fd = binding.socket(binding.constants.SOCK_STREAM as number)
    if (fd < 0) return Effect.fail(unixConnectFailed(address, addon.errnoName(fd), "socket", undefined))
    const [name, abstract] = nativeName(address)
    const connected = (delay: number): Effect.Effect<void, ConnectFailed> => {
      const r = binding.connect(fd, name, abstract)
      if (r >= 0) return Effect.void
      const code = addon.errnoName(r)
      if (code !== "EAGAIN") return Effect.fail(unixConnectFailed(address, code, "connect", undefined))
      // the listener's backlog is full; Linux has no readiness for "room again"
      return Effect.zipRight(
        restore(Effect.sleep(delay)),
        Effect.suspend(() => connected(Math.min(delay * 2, 100))),
      )
    }
    // the descriptor is closed on every way out but adopt's success, which hands it to the runtime
    return Effect.onError(
      Effect.zipRight(
        connected(5),
        Effect.suspend(() => adopt(fd)),
      ),
      () => Effect.sync(() => binding.close(fd)),
    )
  })

/**
 * Runs `use` with a Unix stream socket the `@netfx/native` addon opened,
 * bound to `address` with its exact length and set listening with
 * `backlog`. For the `listen` of a {@link UnixDriver} whose runtime's own
 * bind mangles abstract names.
 *
 * **Resource**: the descriptor belongs to the Scope until `use` succeeds,
 * which hands it to the runtime; if `use` fails or is interrupted, the
 * descriptor is closed.
 *
 * **Errors**: `ListenFailed` with the errno of `socket`, `bind` or
 * `listen`; whatever `use` fails with.
 *
 * **Interruption**: closes the descriptor unless `use` already took it;
 * the hand-over runs uninterruptibly.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import { SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const listenAbstract = (native: { addon: Driver.NativeDriver.NativeAddon; binding: Driver.NativeDriver.NativeBinding }) =>
 *   Driver.listenUnixNative(native.addon, native.binding, SocketAddress.unixAbstract("app"), 511, (fd) =>
 *     Effect.succeed(fd), // a runtime listens on the descriptor here (`server.listen({ fd })`)
 *   )
 * ```
 *
 * @since 0.3.0
 * @category driver
 */
export const listenUnixNative = <A, E>(
  addon: NativeAddon,
  binding: NativeBinding,
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  backlog: number,
  use: (fd: number) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, ListenFailed | E, Scope.Scope> =>
  withNativeFd(
    binding,
    () => binding.socket(binding.constants.SOCK_STREAM as number),
    (code) => new ListenFailed({ address, code, syscall: "socket" }),
    (fd) => {
      const [name, abstract] = nativeName(address)
      const bound = binding.bind(fd, name, abstract)
      if (bound < 0) return Effect.fail(new ListenFailed({ address, code: addon.errnoName(bound), syscall: "bind" }))
      const listening = binding.listen(fd, backlog)
      if (listening < 0)
        return Effect.fail(new ListenFailed({ address, code: addon.errnoName(listening), syscall: "listen" }))
      return Effect.void
    },
    addon,
    use,
  )

const nativeName = (address: SocketAddress.UnixPath | SocketAddress.UnixAbstract): readonly [string, boolean] =>
  address._tag === "UnixPath" ? [address.path, false] : [address.name, true]

const withNativeFd = <A, E, E2>(
  binding: NativeBinding,
  open: () => number,
  openFailed: (code: string) => E2,
  prepare: (fd: number) => Effect.Effect<void, E2>,
  addon: NativeAddon,
  use: (fd: number) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, E | E2, Scope.Scope> =>
  Effect.gen(function* () {
    const fd = open()
    if (fd < 0) return yield* Effect.fail(openFailed(addon.errnoName(fd)))
    let owned = true
    const release = Effect.sync(() => {
      if (owned) binding.close(fd)
      owned = false
    })
    yield* Effect.addFinalizer(() => release)
    yield* Effect.onError(prepare(fd), () => release)
    // handing over must not be cut short: either the runtime owns it or we close it
    return yield* Effect.uninterruptible(
      use(fd).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            owned = false
          }),
        ),
        Effect.onError(() => release),
      ),
    )
  })
