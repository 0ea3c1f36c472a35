/**
 * Unix domain stream sockets: connect and listen on a file system path or a
 * Linux abstract-namespace name.
 *
 * Connections are ordinary {@link SocketStream.SocketStream}s and listeners
 * ordinary {@link Listener}s: the byte-stream and `serve` contracts are the
 * same as TCP's. Abstract names are `SocketAddress.unixAbstract(name)`,
 * never `"\0..."` strings.
 *
 * Differences from AnyIO's `create_unix_listener`:
 * - a socket file left behind by a dead process is removed and reused, but a
 *   path held by a **live** listener fails with `ListenFailed` (`EADDRINUSE`)
 *   instead of being stolen, and a regular file or directory is never touched;
 * - the listener removes its socket file when its Scope closes (AnyIO leaves
 *   it behind); `removeOnClose: false` keeps it.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import type * as Scope from "effect/Scope"
import type { Restore, UnixDriver } from "./Driver.ts"
import { closeRaw, closeWithRaw, withConnectTimeout, withOwnedStream, withPrivateScope } from "./internal/connect.ts"
import * as internalListener from "./internal/listener.ts"
import { acquireInScope } from "./internal/scoped.ts"
import { SocketStreamImpl } from "./internal/socketStream.ts"
import { traced } from "./internal/tracing.ts"
import { spanPath, toUnixAddress } from "./internal/unix/address.ts"
import { bindAt, validateMode } from "./internal/unix/socketFile.ts"
import * as validate from "./internal/validate.ts"
import type { Listener } from "./Listener.ts"
import type { ConnectFailed, InvalidArgument, ListenFailed, Unsupported } from "./NetError.ts"
import * as Network from "./Network.ts"
import * as SocketAddress from "./SocketAddress.ts"
import * as SocketStream from "./SocketStream.ts"

/**
 * A Unix socket address: a path string, or a `SocketAddress` (`UnixPath` or
 * `UnixAbstract`).
 *
 * @example
 * ```ts
 * import { SocketAddress, Unix } from "@netfx/core"
 *
 * const inputs: ReadonlyArray<Unix.UnixAddressInput> = ["/run/app.sock", SocketAddress.unixAbstract("app")]
 * const connections = inputs.map((path) => Unix.connect({ path }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type UnixAddressInput = string | SocketAddress.UnixPath | SocketAddress.UnixAbstract

/**
 * Options of {@link connect}: the address as `path`, shaped like
 * `Tcp.connect`'s `{ host, port }`.
 *
 * @example
 * ```ts
 * import { SocketAddress, Unix } from "@netfx/core"
 *
 * const options: Unix.ConnectOptions = { path: "/run/app.sock", highWaterMark: 16 * 1024, timeout: "2 seconds" }
 * const conn = Unix.connect(options)
 * const abstract = Unix.connect({ path: SocketAddress.unixAbstract("app") })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** A file system path, or a `SocketAddress` (`UnixPath`, `UnixAbstract`). */
  readonly path: UnixAddressInput
  /** Read-ahead bound while nobody receives (default 65536 bytes). */
  readonly highWaterMark?: number
  /**
   * A limit for the connect (a listener whose backlog is full keeps a
   * client waiting): when it passes the socket is closed and `connect`
   * fails with `ConnectFailed` code `ETIMEDOUT`. Default: none.
   */
  readonly timeout?: Duration.DurationInput
}

/**
 * Connects to a Unix stream socket.
 *
 * **Resource**: the socket belongs to the current Scope and is closed when
 * it closes (or by `close`).
 *
 * **Errors**: `InvalidArgument` for an empty, too long or NUL-containing
 * path or a bad `timeout`; `ConnectFailed` with `ENOENT` (no such path),
 * `ECONNREFUSED` (a socket file nobody listens on), `EACCES`, ... (`host`
 * is the formatted address, `port` is -1), with `code: "ETIMEDOUT"` when
 * `timeout` passed; `Unsupported` when the runtime has no Unix sockets.
 *
 * **Interruption**: closes the socket; nothing leaks.
 *
 * **Tracing**: when a tracer is installed, runs in a span
 * `netfx.Unix.connect` (attribute `path`); none under Effect's built-in
 * tracer (see `Tcp.connect`).
 *
 * @example
 * ```ts
 * import { Unix } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const conn = yield* Unix.connect({ path: "/tmp/mysock" })
 *   yield* conn.send(new TextEncoder().encode("Hi"))
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
  ConnectFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> => traced(connectUntraced(options), "netfx.Unix.connect", { path: spanPath(options) })

/** A validated connect: what `connect` and `withConnection` share. */
interface Plan {
  readonly address: SocketAddress.UnixPath | SocketAddress.UnixAbstract
  readonly unix: UnixDriver
  readonly timeout: Duration.Duration | undefined
  readonly streamOptions: SocketStream.SocketStreamOptions | undefined
}

const planOf = (options: ConnectOptions): Effect.Effect<Plan, InvalidArgument | Unsupported, Network.Network> =>
  Effect.gen(function* () {
    const address = yield* toUnixAddress("path", options.path)
    if (options.highWaterMark !== undefined) yield* validate.positiveInt("highWaterMark", options.highWaterMark)
    const timeout =
      options.timeout === undefined ? undefined : yield* validate.positiveDuration("timeout", options.timeout)
    const unix = yield* Network.driver("unix", "Unix sockets")
    const plan: Plan = {
      address,
      unix,
      timeout,
      streamOptions: options.highWaterMark === undefined ? undefined : { highWaterMark: options.highWaterMark },
    }
    return plan
  })

const connectUntraced = (options: ConnectOptions) =>
  Effect.flatMap(planOf(options), (plan) =>
    plan.timeout === undefined
      ? // one step registers the stream and its socket: one finalizer closes both
        acquireInScope((restore) => ownedStream(plan, restore), closeWithRaw)
      : connectTimed(plan, plan.timeout),
  )

/** The connect's stream, owned by the caller (run uninterruptibly, its waits in `restore`: see `UnixDriver`). */
const ownedStream = (plan: Plan, restore: Restore): Effect.Effect<SocketStreamImpl, ConnectFailed> =>
  Effect.map(plan.unix.connect(plan.address, restore), (raw) => new SocketStreamImpl(raw, plan.streamOptions))

/** A connect with a timeout: the attempt in the Scope, released at once when it fails or times out. */
const connectTimed = (plan: Plan, timeout: Duration.Duration) =>
  Effect.flatMap(
    withConnectTimeout(
      acquireInScope((restore) => plan.unix.connect(plan.address, restore), closeRaw),
      timeout,
      () => [{ address: plan.address, code: "ETIMEDOUT" }],
    )(SocketAddress.format(plan.address), -1),
    (raw) => SocketStream.makeScoped(raw, plan.streamOptions),
  )

/**
 * Connects to a Unix stream socket, runs `use` with the connection, and
 * closes it when `use` ends: a bracket for short-lived connections that
 * needs no `Scope` in the caller's context (as `Tcp.withConnection`). The
 * connect is exactly {@link connect}'s, with the same options and errors.
 *
 * **Resource**: the connection is closed when `use` succeeds, fails, dies
 * or is interrupted, before `withConnection` returns, exactly as
 * `Unix.connect` inside `Effect.scoped` closes it. Without a `timeout`
 * no Scope is opened at all; with one, the connect runs in a Scope of its
 * own that `use` does not see. Using the connection afterwards fails with
 * `ClosedResource`; the Stream and Sink views need no Scope.
 *
 * **Errors**: those of {@link connect} (`InvalidArgument`,
 * `ConnectFailed`, `Unsupported`), plus whatever `use` fails with.
 *
 * **Interruption**: while connecting, the socket is closed; while `use`
 * runs, `use` is interrupted and the connection closed before the
 * interruption completes.
 *
 * @example
 * ```ts
 * import { Unix } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const hello = Unix.withConnection({ path: "/tmp/mysock" }, (conn) =>
 *   conn.send(new TextEncoder().encode("Hi")),
 * ).pipe(Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.4.0
 * @category constructors
 */
export const withConnection = <A, E, R>(
  options: ConnectOptions,
  use: (conn: SocketStream.SocketStream) => Effect.Effect<A, E, R>,
): Effect.Effect<A, E | ConnectFailed | InvalidArgument | Unsupported, R | Network.Network> =>
  Effect.flatMap(planOf(options), (plan) =>
    plan.timeout === undefined
      ? withOwnedStream(
          (restore) => traced(ownedStream(plan, restore), "netfx.Unix.connect", { path: spanPath(options) }),
          identity,
          use,
        )
      : withPrivateScope(
          traced(connectTimed(plan, plan.timeout), "netfx.Unix.connect", { path: spanPath(options) }),
          use,
        ),
  )

/**
 * Options of {@link listen}.
 *
 * @example
 * ```ts
 * import { Unix } from "@netfx/core"
 *
 * const options: Unix.ListenOptions = { path: "/run/app.sock", mode: 0o660, backlog: 128, removeOnClose: false }
 * const listener = Unix.listen(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  /** A file system path, or a `SocketAddress` (`UnixPath`, `UnixAbstract`). */
  readonly path: UnixAddressInput
  /**
   * Permission bits for the socket file (e.g. `0o600`); paths only.
   * Default: as the umask gives. Applied with chmod right after bind, so
   * for a moment the file has the umask's permissions: to be strict from
   * the first instant, put the socket in a directory only the intended
   * users can enter.
   */
  readonly mode?: number
  /**
   * Kernel backlog and netfx accept-queue bound (default 511). Bun's
   * `Bun.listen` takes no backlog: there it bounds netfx's queue only.
   */
  readonly backlog?: number
  /** Remove the socket file when the listener's Scope closes (default `true`). */
  readonly removeOnClose?: boolean
  /** Read-ahead bound for accepted connections (default 65536 bytes). */
  readonly highWaterMark?: number
}

/**
 * Binds and listens on a Unix stream socket.
 *
 * Stale paths: when the path holds a socket file nobody listens on (a
 * crashed server's leftover), it is removed and the bind retried. When a
 * live listener holds it, the result is `ListenFailed` with `EADDRINUSE`
 * (it is not stolen). A regular file, directory or other non-socket at the
 * path fails with `ListenFailed` (`EADDRINUSE`) and is left untouched.
 *
 * **Resource**: the listening socket belongs to the current Scope. When the
 * Scope closes the socket is closed and, unless `removeOnClose: false`, its
 * socket file is removed (only if it is still the file this listener
 * created). AnyIO does not remove the file; netfx does by default.
 *
 * **Errors**: `InvalidArgument` for a bad path, backlog or mode;
 * `ListenFailed` with `EADDRINUSE`, `EACCES`, `ENOENT` (missing directory),
 * ...; `Unsupported` when the runtime has no Unix sockets.
 *
 * **Interruption**: closes whatever it bound.
 *
 * **Tracing**: runs in a span `netfx.Unix.listen` (attribute `path`).
 *
 * @example
 * ```ts
 * import { SocketStream, Unix } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const server = Effect.gen(function* () {
 *   const listener = yield* Unix.listen({ path: "/tmp/mysock", mode: 0o600 })
 *   yield* listener.serve((conn) => SocketStream.pipe(conn, conn))
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const listen = (
  options: ListenOptions,
): Effect.Effect<Listener, ListenFailed | InvalidArgument | Unsupported, Scope.Scope | Network.Network> =>
  Effect.gen(function* () {
    const address = yield* toUnixAddress("path", options.path)
    const backlog = yield* validate.positiveInt("backlog", options.backlog ?? internalListener.DEFAULT_BACKLOG)
    if (options.highWaterMark !== undefined) yield* validate.positiveInt("highWaterMark", options.highWaterMark)
    yield* validateMode(options.mode)
    const unix = yield* Network.driver("unix", "Unix sockets")
    const raw = yield* bindAt(
      unix,
      address,
      unix.listen({ address, backlog }),
      // a probe connect, closed at once
      Effect.map(
        Effect.either(Effect.uninterruptibleMask((restore) => Effect.map(unix.connect(address, restore), closeRaw))),
        (probe) =>
          probe._tag === "Right" ? "alive" : probe.left.attempts[0]?.code === "ECONNREFUSED" ? "stale" : "unknown",
      ),
      options,
    )
    return yield* internalListener.make([raw], {
      backlog,
      ...(options.highWaterMark === undefined ? {} : { streamOptions: { highWaterMark: options.highWaterMark } }),
    })
  }).pipe(Effect.withSpan("netfx.Unix.listen", { attributes: { path: spanPath(options) } }))
