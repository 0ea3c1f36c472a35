/**
 * Listeners: what `Tcp.listen`, `Unix.listen` and the TLS listener return.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as LogLevel from "effect/LogLevel"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { RawListener } from "./Driver.ts"
import * as internal from "./internal/listener.ts"
import { ListenerTypeId } from "./internal/typeId.ts"
import type { BusyResource, ClosedResource, InvalidArgument } from "./NetError.ts"
import type * as SocketAddress from "./SocketAddress.ts"
import type { SocketStream, SocketStreamOptions } from "./SocketStream.ts"

export {
  /**
   * @since 0.1.0
   * @category type ids
   */
  ListenerTypeId as TypeId,
}

/**
 * Options of {@link Listener.serve}.
 *
 * @example
 * ```ts
 * import { Listener, SocketStream } from "@netfx/core"
 *
 * const options: Listener.ServeOptions = { maxConnections: 100, idleTimeout: "5 minutes", peerGoneLogLevel: "None" }
 * const echo = (listener: Listener.Listener) => listener.serve((conn) => SocketStream.pipe(conn, conn), options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  /**
   * At most this many handlers run at once. Further connections are not
   * dropped: they wait, unread, in the listener's queue (and then in the
   * kernel backlog) until a handler finishes. Node and Bun accept eagerly,
   * so "waiting" clients already see their connect succeed.
   */
  readonly maxConnections?: number
  /**
   * Closes a connection that has received nothing for this long: its
   * handler is interrupted (its finalizers run), the connection closed and
   * a Debug line logged. Only bytes arriving from the peer count as
   * activity; what the handler sends does not (a peer whose link went down
   * still lets the kernel accept sends until its buffer fills). Checked
   * every quarter of the duration, so the connection closes between 1 and
   * 1.25 times it after the last bytes arrived. Measured on the Effect
   * `Clock` (`TestClock` drives it). Default: none. For peers that vanish
   * without a word, combine it with `keepAlive` on `Tcp.listen`.
   */
  readonly idleTimeout?: Duration.DurationInput
  /**
   * The level at which a handler that ended because the peer ended or
   * broke the connection is logged: `EndOfStream`, or `BrokenResource` with
   * ECONNRESET, EPIPE, ECONNABORTED, ETIMEDOUT, ENOTCONN, EHOSTUNREACH or
   * ENETUNREACH, and nothing else in the cause. Default `"Debug"`; `"None"`
   * logs nothing. Every other failure or defect is logged at Error.
   */
  readonly peerGoneLogLevel?: LogLevel.Literal
}

/**
 * Options shared by every listener constructor.
 *
 * @example
 * ```ts
 * import { Listener } from "@netfx/core"
 *
 * const options: Listener.ListenerOptions = { backlog: 128, streamOptions: { highWaterMark: 16384 } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenerOptions {
  /**
   * The kernel backlog and the bound of netfx's own queue of accepted
   * connections nobody took yet (default 511). A connection arriving when
   * that queue is full is closed and logged, never queued without bound.
   */
  readonly backlog?: number
  /** Options for every accepted stream (read-ahead bound). */
  readonly streamOptions?: SocketStreamOptions
}

/**
 * A listening socket (or, dual stack, one per address family) that yields
 * connected byte streams. `A` is the kind of stream it yields: a plain
 * `SocketStream` from `Tcp.listen`/`Unix.listen`, an `FdPassing.FdStream`
 * (a `SocketStream` that also passes descriptors) from `FdPassing.listen`.
 *
 * **Resource**: the listener is open from its constructor until its Scope
 * closes or `close` runs; closing it also closes connections handed out by
 * `incoming` that are still open and any connection accepted by the
 * runtime that nobody took.
 *
 * **Interruption**: interrupting `accept` drops no connection: one the
 * runtime accepted stays queued for the next `accept`.
 *
 * @example
 * ```ts
 * import { Tcp, SocketStream } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const echoServer = Effect.gen(function* () {
 *   const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
 *   yield* listener.serve((conn) => SocketStream.pipe(conn, conn))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener<A extends SocketStream = SocketStream> {
  readonly [ListenerTypeId]: typeof ListenerTypeId
  /** The first bound address (for dual stack, see `addresses`). */
  readonly address: SocketAddress.SocketAddress
  /** Every bound address: one per family for a dual-stack listener. */
  readonly addresses: ReadonlyArray<SocketAddress.SocketAddress>
  /**
   * Waits for the next connection and attaches it to the caller's Scope.
   *
   * **Errors**: `ClosedResource` once the listener is closed (also wakes a
   * waiting accept); `BusyResource` when another fiber is accepting.
   *
   * **Interruption**: no connection is lost; see {@link Listener}.
   */
  readonly accept: Effect.Effect<A, ClosedResource | BusyResource, Scope.Scope>
  /**
   * Accepts forever and runs `handler` for each connection in its own fiber.
   * The connection closes when its handler ends. A handler that fails or
   * dies is logged at Error level (one line with the peer and listener
   * annotations, plus the cause) and closes only its own connection; one
   * that ended because the peer reset or ended the connection is logged at
   * `peerGoneLogLevel` (Debug by default). Interrupting `serve` closes the
   * listener and interrupts every running handler. Honours
   * `maxConnections` and `idleTimeout`.
   *
   * **Logging**: every line (handler failures, idle closes, a full accept
   * queue, failing accepts) goes through the Logger of the fiber running
   * `serve` (before `serve` starts: of the fiber that opened the listener).
   * Recurring listener conditions are logged at most once a second, with
   * the number of occurrences.
   *
   * **Scheduling**: the accept loop and the handler fibers run on netfx's
   * I/O scheduler: a handler woken by its socket (data, drain, close) runs
   * at once in that I/O callback instead of a microtask later, as a raw
   * runtime handler would. A handler that computes for long still yields
   * every `maxOpsBeforeYield` operations through Effect's default scheduler,
   * and a wake-up from inside another running fiber is deferred as usual.
   * A handler can pick another scheduler with `Effect.withScheduler`.
   *
   * **Cost**: the fiber per connection is the design (a handler is an
   * Effect that can wait, fail and be interrupted on its own), and it is
   * most of what a connection costs over the runtime's own socket: forking
   * it (a fiber, a copy of the FiberRefs) is most of serve's CPU per
   * accepted connection, and the parked fiber with its continuation stack
   * is most of an idle connection's memory (see the bench README, "Server
   * path"). `serve` adds nothing to the handler's stack: the handler is
   * started straight from the runtime's connection callback (no accept loop
   * wakes up), and one exit observer per fiber logs a failure, closes the
   * connection and frees its `maxConnections` slot however the handler
   * ends, even if it is interrupted before its first step. A `handler` that
   * throws instead of returning an Effect is treated as one that died.
   *
   * **Errors**: `ClosedResource` when the listener is closed from elsewhere;
   * `BusyResource` when another fiber accepts (another `serve`, `accept` or
   * `incoming`; the listener then stays open, it is that fiber's);
   * `InvalidArgument` for a bad `maxConnections` or `idleTimeout`.
   */
  serve<E, R>(
    handler: (connection: A) => Effect.Effect<unknown, E, R>,
    options?: ServeOptions,
  ): Effect.Effect<never, ClosedResource | BusyResource | InvalidArgument, R>
  /**
   * The connections as a Stream; it ends when the listener closes. Each
   * connection is the consumer's to `close`; those still open when the
   * listener closes are closed with it.
   */
  readonly incoming: Stream.Stream<A, BusyResource>
  /** Closes the listener now. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * Builds a listener over raw listeners supplied by a runtime (one per
 * address family for dual stack). For transports and runtime adapters.
 *
 * **Resource**: closed when the Scope closes.
 *
 * **Errors**: none.
 *
 * **Interruption**: not applicable (it only allocates the listener).
 *
 * @example
 * ```ts
 * import { Listener } from "@netfx/core"
 * // const listener = yield* Listener.make([rawV4, rawV6])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  raws: ReadonlyArray<RawListener>,
  options?: ListenerOptions,
) => Effect.Effect<Listener, never, Scope.Scope> = internal.make
