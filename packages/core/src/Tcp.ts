/**
 * TCP: connect and listen.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { ConnectRequest, RawConnection, RawListener, Restore, TcpDriver, TlsDriver } from "./Driver.ts"
import { bindAll } from "./internal/bind.ts"
import {
  closeRaw,
  closeWithRaw,
  connectAddresses,
  releasingOnFailure,
  withConnectTimeout,
  withOwnedStream,
  withPrivateScope,
} from "./internal/connect.ts"
import * as internalListener from "./internal/listener.ts"
import { acquireInScope, acquireInScopeOf } from "./internal/scoped.ts"
import { SocketStreamImpl } from "./internal/socketStream.ts"
import * as internalTls from "./internal/tls.ts"
import { secureListeners } from "./internal/tlsListener.ts"
import { builtInTracer, traced, tracedBy } from "./internal/tracing.ts"
import * as validate from "./internal/validate.ts"
import type { Listener } from "./Listener.ts"
import {
  type ConnectFailed,
  InvalidArgument,
  type ListenFailed,
  type ResolveFailed,
  type TlsFailed,
  type Unsupported,
} from "./NetError.ts"
import * as Network from "./Network.ts"
import * as Resolver from "./Resolver.ts"
import * as SocketAddress from "./SocketAddress.ts"
import * as SocketStream from "./SocketStream.ts"
import type * as Tls from "./Tls.ts"

/**
 * Options of {@link connect}.
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 *
 * const options: Tcp.ConnectOptions = { host: "example.com", port: 443, tls: true, happyEyeballsDelay: "100 millis" }
 * const conn = Tcp.connect(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** A host name (resolved with the network's `Resolver`) or a numeric address. */
  readonly host: string
  readonly port: number
  /** Bind the local end to this address before connecting. */
  readonly localHost?: string
  /** Bind the local end to this port before connecting. */
  readonly localPort?: number
  /** TCP_NODELAY; default `true` (as AnyIO, Trio and asyncio do). */
  readonly noDelay?: boolean
  /**
   * SO_KEEPALIVE: `true` (the system's idle time before the first probe)
   * or that idle time as a duration (`"30 seconds"`; a number is
   * milliseconds). Default off.
   */
  readonly keepAlive?: boolean | Duration.DurationInput
  /** Read-ahead bound while nobody receives (default 65536 bytes). */
  readonly highWaterMark?: number
  /**
   * TLS after the TCP connection is established: `true` (system CAs,
   * verification on, SNI = `host`) or {@link Tls.TlsClientOptions}. The
   * handshake is part of `connect`: it fails with `TlsFailed` (reason code
   * and peer address) and interrupting it closes the socket.
   */
  readonly tls?: boolean | Tls.TlsClientOptions
  /**
   * Happy eyeballs (RFC 8305) "Connection Attempt Delay": how long an
   * attempt may run before the next address is tried alongside it (a
   * number is milliseconds). Default 250 ms. `0` turns racing off: each
   * address is tried only after the previous one failed.
   */
  readonly happyEyeballsDelay?: Duration.DurationInput
  /**
   * A limit for the whole connect: resolution, every attempt and the TLS
   * handshake. When it passes, every socket attempted so far is closed and
   * `connect` fails with `ConnectFailed` whose `code` is `ETIMEDOUT` (the
   * attempts still pending are listed with `ETIMEDOUT` too). Default: none
   * (the system's own connect timeout, minutes on Linux).
   */
  readonly timeout?: Duration.DurationInput
}

/**
 * Opens a TCP connection.
 *
 * The host is resolved with the network's `Resolver` (numeric hosts skip
 * it; non-ASCII names are converted with IDNA 2008 first) and the
 * addresses are raced with happy eyeballs (RFC 8305): families interleaved
 * (IPv6 first), the next attempt starting when the previous one fails or
 * after `happyEyeballsDelay` (250 ms), whichever comes first. The first
 * connection wins; every other attempt is aborted and its socket closed
 * before `connect` returns.
 *
 * **Resource**: the socket belongs to the current Scope and is closed when
 * it closes (or by `close`).
 *
 * **Errors**: `InvalidArgument` for a bad port, host or duration;
 * `ResolveFailed` when the name does not resolve; `ConnectFailed` listing
 * every attempted address with its errno (`ECONNREFUSED`, `ETIMEDOUT`,
 * ...), with `code: "ETIMEDOUT"` when `timeout` passed; `TlsFailed` when
 * the handshake fails; `Unsupported` when the runtime has no TCP.
 *
 * **Tracing**: when a tracer is installed (`Effect.withTracer`,
 * OpenTelemetry, ...), runs in a span `netfx.Tcp.connect` (attributes
 * `host`, `port`). Under Effect's built-in tracer, which exports nothing,
 * there is no span: it would cost about a tenth of a loopback connect.
 *
 * **Interruption**: at any moment (resolving or racing) it closes every
 * socket it opened, the winner's too if one had connected; nothing leaks.
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const conn = yield* Tcp.connect({ host: "localhost", port: 1234 })
 *   yield* conn.send(new TextEncoder().encode("Client\n"))
 *   const reply = yield* conn.receive()
 *   console.log(new TextDecoder().decode(reply))
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  options: ConnectOptions,
): Effect.Effect<
  SocketStream.SocketStream,
  ConnectFailed | ResolveFailed | InvalidArgument | Unsupported | TlsFailed,
  Scope.Scope | Network.Network
> =>
  Effect.withFiberRuntime((fiber) => {
    // the common connect (a dotted quad, plain options, no tracer) in this one step:
    // no Effect for the tracer check, the plan, the Network or the Scope lookup
    const tracer = fiber.currentTracer
    const plan = tracer === builtInTracer ? quickPlan(options, fiber.currentContext) : undefined
    return plan === undefined
      ? tracedBy(tracer, connectUntraced(options), "netfx.Tcp.connect", { host: options.host, port: options.port })
      : acquireInScopeOf(
          Context.unsafeGet(fiber.currentContext, Scope.Scope),
          (restore) => ownedRaw(plan, plan.direct, restore),
          plan.stream,
          closeWithRaw,
        )
  })

/**
 * Opens a TCP connection, runs `use` with it, and closes it when `use`
 * ends: a bracket for short-lived connections that needs no `Scope` (as
 * AnyIO's `async with await connect_tcp(...)`). The connect is exactly
 * {@link connect}'s: the same options (`tls`, `timeout`, happy eyeballs,
 * ...), the same errors, the same span.
 *
 * **Resource**: the connection is closed when `use` succeeds, fails, dies
 * or is interrupted, before `withConnection` returns, exactly as
 * `Tcp.connect` inside `Effect.scoped` closes it: a graceful close (FIN;
 * a reset when received bytes were left unread), and for TLS the
 * `close_notify` first. Using the connection after that (a fiber `use`
 * forked, a reference it kept) fails with `ClosedResource`, as on any
 * closed connection. `use` runs without a Scope of netfx's in its context:
 * the Stream and Sink views (`SocketStream.toStream`, `toSink`) need none;
 * what `use` itself acquires with `Effect.acquireRelease` goes to the
 * caller's Scope as usual.
 *
 * **Cost**: for a numeric IPv4 host without `timeout` (and, with `tls`,
 * without `tls.handshakeTimeout`, on a runtime whose TLS driver has
 * `connectOwned`, as Node's has), the connection is one step of the
 * runtime's drivers, acquired and released as `Effect.acquireUseRelease`
 * would, with no Scope at all: about half the Effect operations and
 * allocations of `Effect.scoped(Tcp.connect(...))` (see the bench's
 * `accept` scenario). Other connects run in a Scope of their own that
 * `use` does not see, closed when `use` ends.
 *
 * **Errors**: those of {@link connect} (`InvalidArgument`, `ResolveFailed`,
 * `ConnectFailed`, `TlsFailed`, `Unsupported`), plus whatever `use` fails
 * with.
 *
 * **Interruption**: while connecting, as {@link connect}: every socket it
 * opened is closed and nothing leaks. While `use` runs, `use` is
 * interrupted and the connection closed before the interruption
 * completes. The close itself is not interruptible. Inside the caller's
 * own `Effect.uninterruptible`, neither the connect nor `use` is.
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * // one request per connection: no Effect.scoped needed
 * const ask = (question: string) =>
 *   Tcp.withConnection({ host: "127.0.0.1", port: 1234, timeout: "5 seconds" }, (conn) =>
 *     Effect.gen(function* () {
 *       yield* conn.send(new TextEncoder().encode(question))
 *       yield* conn.sendEof
 *       return new TextDecoder().decode(yield* conn.receive())
 *     }),
 *   )
 *
 * const program = ask("ping\n").pipe(Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.4.0
 * @category constructors
 */
export const withConnection = <A, E, R>(
  options: ConnectOptions,
  use: (conn: SocketStream.SocketStream) => Effect.Effect<A, E, R>,
): Effect.Effect<
  A,
  E | ConnectFailed | ResolveFailed | InvalidArgument | Unsupported | TlsFailed,
  R | Network.Network
> =>
  Effect.withFiberRuntime((fiber) => {
    // the common connect (a dotted quad, plain options, no tracer) in this one step, as `connect`'s
    const plan = fiber.currentTracer === builtInTracer ? quickPlan(options, fiber.currentContext) : undefined
    return plan === undefined
      ? Effect.flatMap(planOf(options), (plan) => withPlan(plan, use))
      : withOwnedStream((restore) => ownedRaw(plan, plan.direct, restore), plan.stream, use)
  })

/** `withConnection` once planned. */
const withPlan = <A, E, R>(
  plan: Plan,
  use: (conn: SocketStream.SocketStream) => Effect.Effect<A, E, R>,
): Effect.Effect<A, E | ConnectFailed | ResolveFailed | InvalidArgument | Unsupported | TlsFailed, R> => {
  const direct = plan.direct
  return direct === undefined
    ? withPrivateScope(traced(connectPlanned(plan), "netfx.Tcp.connect", { host: plan.host, port: plan.port }), use)
    : withOwnedStream(
        (restore) =>
          traced(ownedStream(plan, direct, restore), "netfx.Tcp.connect", { host: plan.host, port: plan.port }),
        identity,
        use,
      )
}

/** A validated connect: what `connect` and `withConnection` share. */
interface Plan {
  readonly host: string
  readonly port: number
  readonly network: Network.NetworkService
  readonly tcp: TcpDriver
  readonly request: (address: SocketAddress.Ipv4 | SocketAddress.Ipv6) => ConnectRequest
  readonly tls: true | Tls.TlsClientOptions | undefined
  readonly tlsDriver: TlsDriver | undefined
  readonly timeout: Duration.Duration | undefined
  readonly localFamily: 0 | 4 | 6
  readonly happyEyeballsDelay: Duration.DurationInput | undefined
  readonly streamOptions: SocketStream.SocketStreamOptions | undefined
  /** The host's only address when it is a dotted quad (no resolver; what the resolver's front answers for it). */
  readonly only: SocketAddress.Ipv4 | undefined
  /**
   * The host's only address when it needs no resolver, no race and no
   * timeout, and the driver's own `ConnectFailed` names it as it is (a
   * canonical dotted quad), and TLS (if asked for) is a `connectOwned` of
   * the TLS driver without a handshake timeout: the connect is then the
   * driver's one step (two with TLS), owned by the caller.
   */
  readonly direct: SocketAddress.Ipv4 | undefined
  /** The stream over a connected connection, with the connect's stream options. */
  readonly stream: (raw: RawConnection) => SocketStreamImpl
  /** With `direct` and TLS: the owned handshake on the connected socket (see `TlsDriver.connectOwned`). */
  readonly secure: ((raw: RawConnection, restore: Restore) => Effect.Effect<RawConnection, TlsFailed>) | undefined
}

const planOf = (
  options: ConnectOptions,
): Effect.Effect<Plan, InvalidArgument | TlsFailed | Unsupported, Network.Network> =>
  Effect.gen(function* () {
    // host and port checked without an Effect each: this runs on every connect
    const invalid = validate.hostError("host", options.host) ?? validate.portError("port", options.port)
    if (invalid !== undefined) return yield* Effect.fail(invalid)
    const localPort = options.localPort === undefined ? undefined : yield* validate.port("localPort", options.localPort)
    if (options.highWaterMark !== undefined) yield* validate.positiveInt("highWaterMark", options.highWaterMark)
    if (options.happyEyeballsDelay !== undefined) {
      yield* validate.nonNegativeDuration("happyEyeballsDelay", options.happyEyeballsDelay)
    }
    const keepAlive =
      options.keepAlive === undefined || options.keepAlive === false ? undefined : yield* keepAliveOf(options.keepAlive)
    const timeout =
      options.timeout === undefined ? undefined : yield* validate.positiveDuration("timeout", options.timeout)
    const network = yield* Network.Network
    const tcp = network.tcp ?? (yield* Network.driver("tcp", "TCP"))
    const tls = options.tls === undefined || options.tls === false ? undefined : options.tls
    const pem = tls === undefined || tls === true ? undefined : internalTls.pemFailed("tls", tls)
    if (pem !== undefined) return yield* Effect.fail(pem)
    const tlsDriver = tls === undefined ? undefined : yield* internalTls.driver
    return planWith(options, network, tcp, localPort, keepAlive, timeout, tls, tlsDriver)
  })

/** A stream with the default options over a connection. */
const plainStream = (raw: RawConnection): SocketStreamImpl => new SocketStreamImpl(raw)

/** A plan that connects its one address directly (see `Plan.direct`). */
type DirectPlan = Plan & { readonly direct: SocketAddress.Ipv4 }

const isDirect = (plan: Plan): plan is DirectPlan => plan.direct !== undefined

/**
 * The plan of a connect that needs no Effect to check its options (host,
 * port and the flags only) and connects its one address directly (a dotted
 * quad), on a Network with a TCP driver, built synchronously from the
 * fiber's context; `undefined` for every other connect, which goes through
 * {@link planOf} (it fails or plans it as before). Hosts that are not a
 * dotted quad are turned away before anything is built, so their connect
 * is planned once, by `planOf`.
 */
const quickPlan = (options: ConnectOptions, context: Context.Context<never>): DirectPlan | undefined => {
  if (
    options.localPort !== undefined ||
    options.highWaterMark !== undefined ||
    options.happyEyeballsDelay !== undefined ||
    options.timeout !== undefined ||
    (options.keepAlive !== undefined && options.keepAlive !== false) ||
    (options.tls !== undefined && options.tls !== false) ||
    validate.hostError("host", options.host) !== undefined ||
    validate.portError("port", options.port) !== undefined ||
    SocketAddress.numericFamily(options.host) !== 4
  ) {
    return undefined
  }
  const network = Context.getOption(context, Network.Network)
  if (network._tag === "None") return undefined
  const tcp = network.value.tcp
  if (tcp === undefined) return undefined
  const plan = planWith(options, network.value, tcp, undefined, undefined, undefined, undefined, undefined)
  return isDirect(plan) ? plan : undefined
}

/** A connect's plan from its checked options and drivers (what {@link planOf} and {@link quickPlan} share). */
const planWith = (
  options: ConnectOptions,
  network: Network.NetworkService,
  tcp: TcpDriver,
  localPort: number | undefined,
  keepAlive: Duration.Duration | undefined,
  timeout: Duration.Duration | undefined,
  tls: true | Tls.TlsClientOptions | undefined,
  tlsDriver: TlsDriver | undefined,
): Plan => {
  const host = options.host
  const port = options.port
  // a numeric local address binds one family: only addresses of that family can connect from it
  const localFamily = options.localHost === undefined ? 0 : SocketAddress.numericFamily(options.localHost)
  const request = (address: SocketAddress.Ipv4 | SocketAddress.Ipv6): ConnectRequest => ({
    address,
    localHost: options.localHost,
    localPort,
    noDelay: options.noDelay ?? true,
    keepAlive: keepAlive !== undefined,
    keepAliveInitialDelay: keepAlive ?? Duration.zero,
  })
  // a dotted-quad IPv4 host is its own only address (what the resolver's front answers for it)
  const only = localFamily !== 6 && SocketAddress.numericFamily(host) === 4 ? SocketAddress.ipv4(host, port) : undefined
  const secure = tls === undefined || tlsDriver === undefined ? undefined : ownedHandshake(tlsDriver, host, tls)
  const streamOptions = options.highWaterMark === undefined ? undefined : { highWaterMark: options.highWaterMark }
  const plan: Plan = {
    host,
    port,
    network,
    tcp,
    request,
    tls,
    tlsDriver,
    timeout,
    localFamily,
    happyEyeballsDelay: options.happyEyeballsDelay,
    streamOptions,
    stream: streamOptions === undefined ? plainStream : (raw) => new SocketStreamImpl(raw, streamOptions),
    only,
    direct:
      only !== undefined && only.host === host && timeout === undefined && (tls === undefined || secure !== undefined)
        ? only
        : undefined,
    secure,
  }
  return plan
}

const connectUntraced = (options: ConnectOptions) =>
  Effect.flatMap(planOf(options), (plan) => {
    const direct = plan.direct
    return direct === undefined
      ? connectPlanned(plan)
      : // one step registers the stream and its socket: one finalizer closes both
        acquireInScope((restore) => ownedStream(plan, direct, restore), closeWithRaw)
  })

/**
 * The TLS client handshake a caller owns (`TlsDriver.connectOwned`), when
 * the driver has one and no handshake timeout applies; `undefined`
 * otherwise (the handshake then runs in the Scope).
 */
const ownedHandshake = (driver: TlsDriver, host: string, tls: true | Tls.TlsClientOptions): Plan["secure"] => {
  const connectOwned = driver.connectOwned
  if (connectOwned === undefined || (tls !== true && tls.handshakeTimeout !== undefined)) return undefined
  const request = internalTls.clientRequest(host, tls)
  return (raw, restore) => connectOwned(raw, request, restore)
}

/**
 * The direct connect's stream, owned by the caller (run uninterruptibly, its
 * waits in `restore`: see `TcpDriver`); with TLS the session owns the socket,
 * so the stream's one release closes both.
 */
const ownedStream = (
  plan: Plan,
  address: SocketAddress.Ipv4,
  restore: Restore,
): Effect.Effect<SocketStreamImpl, ConnectFailed | TlsFailed> =>
  Effect.map(ownedRaw(plan, address, restore), plan.stream)

/** The direct connect's connection, before it is a stream (see {@link ownedStream}). */
const ownedRaw = (
  plan: Plan,
  address: SocketAddress.Ipv4,
  restore: Restore,
): Effect.Effect<RawConnection, ConnectFailed | TlsFailed> => {
  const connecting = plan.tcp.connect(plan.request(address), restore)
  const secure = plan.secure
  return secure === undefined ? connecting : Effect.flatMap(connecting, (raw) => secure(raw, restore))
}

/** Every other connect: resolving, racing, TLS, timeout, each attempt in the Scope. */
const connectPlanned = (
  plan: Plan,
): Effect.Effect<
  SocketStream.SocketStream,
  ConnectFailed | ResolveFailed | InvalidArgument | Unsupported | TlsFailed,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const { host, port, tls, tlsDriver, timeout } = plan
    // the attempts as they stand, for a timeout's error (kept only when there is a timeout)
    const tried: Array<{ readonly address: SocketAddress.Ipv4 | SocketAddress.Ipv6; code?: string }> | undefined =
      timeout === undefined ? undefined : []
    const attempt = (address: SocketAddress.Ipv4 | SocketAddress.Ipv6) => {
      const connecting = acquireInScope((restore) => plan.tcp.connect(plan.request(address), restore), closeRaw)
      if (tried === undefined) return connecting
      const entry: { readonly address: SocketAddress.Ipv4 | SocketAddress.Ipv6; code?: string } = { address }
      tried.push(entry)
      return Effect.tapError(connecting, (e) =>
        Effect.sync(() => {
          entry.code = e.attempts[0]?.code ?? "ECONNREFUSED"
        }),
      )
    }
    const race = { host, port, delay: plan.happyEyeballsDelay }
    const only = plan.only
    const run =
      only !== undefined
        ? connectAddresses([only], attempt, race)
        : Effect.flatMap(resolveStream(plan.network.resolver, host, port, plan.localFamily), (addresses) =>
            connectAddresses(addresses, attempt, race),
          )
    const secured =
      tlsDriver === undefined || tls === undefined
        ? run
        : Effect.flatMap(run, (raw) =>
            internalTls.clientHandshake(tlsDriver, raw, internalTls.clientRequest(host, tls)),
          )
    const raw =
      timeout === undefined || tried === undefined
        ? // a failed handshake releases the TCP connection and its registration
          // at once, so a retry loop in a long-lived Scope accumulates nothing
          yield* secured === run ? run : releasingOnFailure(secured)
        : // releases whatever the connect opened when it fails, handshake included
          yield* withConnectTimeout(secured, timeout, () =>
            tried.map((t) => ({ address: t.address, code: t.code ?? "ETIMEDOUT" })),
          )(host, port)
    return yield* SocketStream.makeScoped(raw, plan.streamOptions)
  })

/**
 * SO_KEEPALIVE on with this idle time (zero: the system's), in whole
 * milliseconds, for `keepAlive: true` or a delay; absent and `false` (off)
 * are told apart by the caller without an Effect.
 */
const keepAliveOf = (value: unknown): Effect.Effect<Duration.Duration, InvalidArgument> =>
  value === true
    ? Effect.succeed(Duration.zero)
    : Effect.map(validate.nonNegativeDuration("keepAlive", value), (d) =>
        Duration.millis(Math.round(Duration.toMillis(d))),
      )

const resolveStream = (
  resolver: Network.NetworkService["resolver"],
  host: string,
  port: number,
  family: 0 | 4 | 6,
): Effect.Effect<ReadonlyArray<SocketAddress.Ipv4 | SocketAddress.Ipv6>, ResolveFailed> =>
  Effect.map(Resolver.lookup(resolver, host, port, { type: "stream", family }), (infos) => infos.map((i) => i.address))

/**
 * Options of {@link listen}.
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 *
 * const options: Tcp.ListenOptions = { host: "localhost", port: 0, backlog: 128 }
 * const listener = Tcp.listen(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  /**
   * The local host to bind. Omitted: every interface of both families
   * (`0.0.0.0` and `::`, the IPv6 socket with IPV6_V6ONLY), on one port.
   * A name (`"localhost"`) binds every address it resolves to, all on one
   * port (IPv6 sockets with IPV6_V6ONLY when there are several); with port
   * 0, when the port chosen for the first address is taken for another,
   * netfx picks a new one (a bounded number of times).
   */
  readonly host?: string
  /** The port; 0 (the default) lets the system choose. */
  readonly port?: number
  /** Kernel backlog and netfx accept-queue bound (default 511). */
  readonly backlog?: number
  /** SO_REUSEPORT: several listeners share the port (Linux; on Node before 22.12 through the `@netfx/native` addon). Default false. */
  readonly reusePort?: boolean
  /** TCP_NODELAY on accepted connections; default `true`. */
  readonly noDelay?: boolean
  /**
   * SO_KEEPALIVE on every accepted connection, so a peer that vanished
   * without a word (its host or link went down) is detected: the system
   * probes an idle connection and, when probes go unanswered, the next
   * `receive` fails with `BrokenResource` (`ETIMEDOUT`). `true` keeps the
   * system's idle time before the first probe (Linux: 2 hours); a duration
   * sets it (TCP_KEEPIDLE, whole seconds). Default off. See also
   * `ServeOptions.idleTimeout`, which needs no probing.
   */
  readonly keepAlive?: boolean | Duration.DurationInput
  /** Read-ahead bound for accepted connections (default 65536 bytes). */
  readonly highWaterMark?: number
  /**
   * Serve TLS: every accepted connection completes a handshake (limited by
   * `tls.handshakeTimeout`, default 10 s) before `accept`/`serve` see
   * it. A failed or timed-out handshake is logged once with the peer
   * address and the connection dropped; the handler is never called for
   * it. At most `tls.maxHandshakes` (default 1024) handshakes are in
   * progress; a connection beyond that closes the oldest pending one (see
   * {@link Tls.TlsServerOptions}).
   */
  readonly tls?: Tls.TlsServerOptions
}

/**
 * Binds and listens for TCP connections.
 *
 * **Resource**: the listening socket(s) belong to the current Scope and
 * close with it (or with `close`), together with connections accepted by
 * the system that nobody took.
 *
 * **Errors**: `InvalidArgument` for a bad port, backlog or `tls` option
 * (a TLS listener without `cert` and `key`, a bad `handshakeTimeout`
 * or `maxHandshakes`, an `sniContexts` key that is not a host name);
 * `ResolveFailed`
 * for an unresolvable host; `ListenFailed` with `EADDRINUSE`, `EACCES`,
 * `EADDRNOTAVAIL`, ...; `Unsupported` when the runtime has no TCP.
 *
 * **Interruption**: closes whatever it bound so far.
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const server = Effect.gen(function* () {
 *   const listener = yield* Tcp.listen({ port: 1234 })
 *   yield* listener.serve((client) =>
 *     Effect.gen(function* () {
 *       const name = yield* client.receive(1024)
 *       yield* client.send(new TextEncoder().encode(`Hello, ${new TextDecoder().decode(name)}\n`))
 *     }),
 *   )
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const listen = (
  options: ListenOptions = {},
): Effect.Effect<
  Listener,
  ListenFailed | ResolveFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> =>
  Effect.gen(function* () {
    const port = yield* validate.port("port", options.port ?? 0)
    const backlog = yield* validate.positiveInt("backlog", options.backlog ?? internalListener.DEFAULT_BACKLOG)
    if (options.highWaterMark !== undefined) yield* validate.positiveInt("highWaterMark", options.highWaterMark)
    const keepAlive = yield* listenKeepAlive(options.keepAlive)
    const tcp = yield* Network.driver("tcp", "TCP")
    const network = yield* Network.Network
    const wildcard = options.host === undefined
    const addresses = wildcard
      ? [SocketAddress.ipv4("0.0.0.0", port), SocketAddress.ipv6("::", port)]
      : yield* resolveListen(network.resolver, yield* validate.host("host", options.host), port)
    const raws: ReadonlyArray<RawListener> = yield* bindAll(
      addresses,
      (address, ipv6Only) =>
        tcp.listen({
          address,
          backlog,
          reusePort: options.reusePort ?? false,
          ipv6Only,
          noDelay: options.noDelay ?? true,
          keepAlive: keepAlive !== false,
          keepAliveInitialDelay: typeof keepAlive === "boolean" ? Duration.zero : keepAlive,
        }),
      { wildcard },
    )
    const secured =
      options.tls === undefined
        ? raws
        : yield* secureListeners(raws, yield* internalTls.driver, yield* internalTls.validateServer(options.tls))
    return yield* internalListener.make(secured, {
      backlog,
      ...(options.highWaterMark === undefined ? {} : { streamOptions: { highWaterMark: options.highWaterMark } }),
    })
  }).pipe(Effect.withSpan("netfx.Tcp.listen", { attributes: { host: options.host ?? "*", port: options.port ?? 0 } }))

const listenKeepAlive = (
  keepAlive: boolean | Duration.DurationInput | undefined,
): Effect.Effect<boolean | Duration.Duration, InvalidArgument> => {
  if (keepAlive === undefined || typeof keepAlive === "boolean") return Effect.succeed(keepAlive ?? false)
  const d = Duration.decodeUnknown(keepAlive)
  return Option.isSome(d) && Duration.isFinite(d.value) && Duration.toMillis(d.value) >= 0
    ? Effect.succeed(d.value)
    : Effect.fail(
        new InvalidArgument({
          argument: "keepAlive",
          reason: "must be a boolean or a finite duration",
          value: keepAlive,
        }),
      )
}

const resolveListen = (
  resolver: Network.NetworkService["resolver"],
  host: string,
  port: number,
): Effect.Effect<ReadonlyArray<SocketAddress.Ipv4 | SocketAddress.Ipv6>, ResolveFailed> =>
  // every distinct address the name has (the front drops duplicates), in the resolver's order
  Effect.map(Resolver.lookup(resolver, host, port, { type: "stream", flags: Resolver.AI_PASSIVE }), (infos) =>
    infos.map((i) => i.address),
  )
