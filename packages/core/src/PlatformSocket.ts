/**
 * netfx sockets as `@effect/platform`'s `Socket` and `SocketServer`, so
 * code written against those interfaces (an RPC protocol over a socket,
 * `Socket.toChannel`, your own services) runs over netfx TCP, TLS, Unix
 * sockets — and over `MemoryNetwork` in tests.
 *
 * Import it from its own path (it needs `@effect/platform`, an optional
 * peer dependency of `@netfx/core`):
 *
 * ```ts
 * import * as PlatformSocket from "@netfx/core/PlatformSocket"
 * ```
 *
 * The mapping follows `@effect/platform-node`'s `NodeSocket`:
 * - `run(handler)` opens the connection (a client socket connects on each
 *   `run`), calls `handler` for every chunk received (its effects run
 *   concurrently, in a `FiberSet`), and completes when the peer ends the
 *   stream (`EndOfStream`); the connection closes when `run` ends.
 * - a `writer` sends `Uint8Array`s and strings (UTF-8); a `CloseEvent`
 *   closes the connection (code 1000 ends `run` cleanly, another code
 *   fails it with `SocketCloseError`); releasing the writer's Scope sends
 *   end of stream (`sendEof`).
 * - netfx errors arrive as `SocketGenericError` (`reason` `Open`, `Read`
 *   or `Write`) with the typed netfx error (`ConnectFailed`,
 *   `BrokenResource`, ...) as its `cause`.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Listener from "./Listener.ts"
import type * as Network from "./Network.ts"
import * as SocketAddress from "./SocketAddress.ts"
import type * as SocketStream from "./SocketStream.ts"
import * as Tcp from "./Tcp.ts"
import * as Unix from "./Unix.ts"

const encoder = new TextEncoder()

const genericError = (reason: "Open" | "Read" | "Write", cause: unknown) =>
  new Socket.SocketGenericError({ reason, cause })

/**
 * A `Socket` over the netfx byte stream `open` yields; `open` runs on each
 * `run` in that run's Scope (so a client socket connects per run, and the
 * connection closes when the run ends).
 *
 * **Resource**: nothing until `run`; each run holds one connection.
 *
 * **Errors** (of `run`): `SocketGenericError` — `Open` when `open` fails,
 * `Read` when receiving fails — with the error as `cause`. `open` may
 * fail with any error, not only netfx's: put `Effect.timeout`, a retry
 * or your own checks on it and that error becomes the `cause`;
 * `SocketCloseError` when a `CloseEvent` with a code other than 1000 was
 * written; the handler's own errors.
 *
 * **Interruption**: interrupting `run` interrupts the handlers and closes
 * the connection.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, Tcp } from "@netfx/core"
 * import * as PlatformSocket from "@netfx/core/PlatformSocket"
 * import { Effect } from "effect"
 *
 * // any error of your own on the connect effect: here a TimeoutException
 * const socket = PlatformSocket.fromSocketStream(
 *   Tcp.connect({ host: "127.0.0.1", port: 7000 }).pipe(Effect.timeout("5 seconds")),
 * )
 * const program = Effect.flatMap(socket, (s) => s.run((chunk) => Effect.log(`${chunk.length} bytes`))).pipe(
 *   Effect.provide(MemoryNetwork.layer()),
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSocketStream = <E, RO>(
  open: Effect.Effect<SocketStream.SocketStream, E, RO>,
): Effect.Effect<Socket.Socket, never, Exclude<RO, Scope.Scope>> =>
  Effect.map(Effect.context<Exclude<RO, Scope.Scope>>(), (openContext) => {
    let current:
      | { readonly conn: SocketStream.SocketStream; readonly done: Deferred.Deferred<void, Socket.SocketError> }
      | undefined
    const latch = Effect.unsafeMakeLatch(false)

    const run = <_, EH, R>(
      handler: (_: Uint8Array) => Effect.Effect<_, EH, R> | void,
      opts?: { readonly onOpen?: Effect.Effect<void> | undefined },
    ): Effect.Effect<void, Socket.SocketError | EH, R> =>
      Effect.scoped(
        Effect.gen(function* () {
          const fibers = yield* FiberSet.make<unknown, EH | Socket.SocketError>()
          const runFork = yield* FiberSet.runtime(fibers)<R>()
          const conn = yield* (open as Effect.Effect<SocketStream.SocketStream, E, RO | Scope.Scope>).pipe(
            Effect.mapError((e) => genericError("Open", e)),
            Effect.provide(openContext as Context.Context<RO>),
          )
          const done = fibers.deferred as Deferred.Deferred<void, Socket.SocketError>
          // the reader: each chunk to the handler; end of stream ends the run
          yield* FiberSet.run(
            fibers,
            Effect.forever(
              Effect.flatMap(conn.receive(), (chunk) =>
                Effect.sync(() => {
                  const result = handler(chunk)
                  if (Effect.isEffect(result)) runFork(result)
                }),
              ),
            ).pipe(
              Effect.catchAll((e) =>
                e._tag === "EndOfStream" ? Deferred.succeed(done, undefined) : Effect.fail(genericError("Read", e)),
              ),
            ),
          )
          current = { conn, done }
          yield* latch.open
          if (opts?.onOpen !== undefined) yield* opts.onOpen
          return yield* FiberSet.join(fibers)
        }),
      ).pipe(
        // a CloseEvent with code 1000 is a clean end of the run
        Effect.catchIf(
          Socket.SocketCloseError.isClean((code) => code === 1000),
          () => Effect.void,
        ),
        Effect.ensuring(
          Effect.sync(() => {
            latch.unsafeClose()
            current = undefined
          }),
        ),
        Effect.interruptible,
      )

    const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
      latch.whenOpen(
        Effect.suspend((): Effect.Effect<void, Socket.SocketError> => {
          const c = current
          if (c === undefined) return Effect.fail(new Socket.SocketCloseError({ reason: "Close", code: 1006 }))
          if (Socket.isCloseEvent(chunk)) {
            // the run's outcome first, then the close (which wakes the reader)
            return Effect.zipRight(
              chunk.code === 1000
                ? Deferred.succeed(c.done, undefined)
                : Deferred.fail(
                    c.done,
                    new Socket.SocketCloseError({ reason: "Close", code: chunk.code, closeReason: chunk.reason }),
                  ),
              c.conn.close,
            )
          }
          return Effect.mapError(c.conn.send(typeof chunk === "string" ? encoder.encode(chunk) : chunk), (e) =>
            genericError("Write", e),
          )
        }),
      )

    const writer = Effect.acquireRelease(Effect.succeed(write), () =>
      Effect.suspend(() => (current === undefined ? Effect.void : Effect.ignore(current.conn.sendEof))),
    )

    return Socket.Socket.of({ [Socket.TypeId]: Socket.TypeId, run, runRaw: run, writer })
  })

/**
 * A client `Socket` that connects with `Tcp.connect(options)` on each
 * `run` (happy eyeballs, TLS with the `tls` option — everything
 * `Tcp.connect` does).
 *
 * **Resource**, **Errors**, **Interruption**: as {@link fromSocketStream};
 * connect errors (`ConnectFailed`, `ResolveFailed`, `TlsFailed`, ...) are
 * the `cause` of a `SocketGenericError` with reason `Open`.
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import * as PlatformSocket from "@netfx/core/PlatformSocket"
 * import { Effect } from "effect"
 *
 * // a platform Socket to example.test:7000, over whichever Network is provided
 * const socket: Effect.Effect<Socket.Socket, never, import("@netfx/core").Network.Network> =
 *   PlatformSocket.makeTcp({ host: "example.test", port: 7000 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTcp = (options: Tcp.ConnectOptions): Effect.Effect<Socket.Socket, never, Network.Network> =>
  fromSocketStream(Tcp.connect(options))

/**
 * A client `Socket` over a Unix stream socket (`Unix.connect(options)` on each `run`).
 *
 * **Resource**, **Errors**, **Interruption**: as {@link makeTcp}.
 *
 * @example
 * ```ts
 * import * as PlatformSocket from "@netfx/core/PlatformSocket"
 *
 * const socket = PlatformSocket.makeUnix({ path: "/run/app.sock", timeout: "1 second" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUnix = (options: Unix.ConnectOptions): Effect.Effect<Socket.Socket, never, Network.Network> =>
  fromSocketStream(Unix.connect(options))

/**
 * `@effect/platform`'s `Socket` service as a Layer, connecting with
 * `Unix.connect(options)` on each `run`.
 *
 * **Resource**: none until a `run`. **Errors**: none building the Layer;
 * connect errors (`ConnectFailed`, ...) are the `cause` of a
 * `SocketGenericError` with reason `Open` from `run`.
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { NodeNetwork } from "@netfx/node"
 * import * as PlatformSocket from "@netfx/core/PlatformSocket"
 * import { Effect, Layer } from "effect"
 *
 * const SocketLive = PlatformSocket.layerUnix({ path: "/run/app.sock" }).pipe(Layer.provide(NodeNetwork.layer))
 * const program = Effect.flatMap(Socket.Socket, (socket) => socket.run(() => Effect.void)).pipe(
 *   Effect.provide(SocketLive),
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerUnix = (options: Unix.ConnectOptions): Layer.Layer<Socket.Socket, never, Network.Network> =>
  Layer.effect(Socket.Socket, makeUnix(options))

/**
 * `@effect/platform`'s `Socket` service as a Layer, connecting with
 * `Tcp.connect(options)` on each `run`.
 *
 * **Resource**: none until a `run`. **Errors**: none building the Layer.
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { MemoryNetwork } from "@netfx/core"
 * import * as PlatformSocket from "@netfx/core/PlatformSocket"
 * import { Effect, Layer } from "effect"
 *
 * const SocketLive = PlatformSocket.layerTcp({ host: "api.test", port: 9000 }).pipe(
 *   Layer.provide(MemoryNetwork.layer({ hosts: { "api.test": "10.0.0.9" } })),
 * )
 * const program = Effect.flatMap(Socket.Socket, (socket) => socket.run(() => Effect.void)).pipe(
 *   Effect.provide(SocketLive),
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTcp = (options: Tcp.ConnectOptions): Layer.Layer<Socket.Socket, never, Network.Network> =>
  Layer.effect(Socket.Socket, makeTcp(options))

const platformAddress = (address: SocketAddress.SocketAddress): SocketServer.Address =>
  SocketAddress.isIp(address)
    ? { _tag: "TcpAddress", hostname: address.host, port: address.port }
    : { _tag: "UnixAddress", path: address._tag === "UnixPath" ? address.path : `@${address.name}` }

/**
 * A netfx listener as `@effect/platform`'s `SocketServer` service: `run`
 * serves every connection (`listener.serve`), handing the handler a
 * `Socket` over it; a handler's failure is logged and closes only its
 * connection, as `serve` does.
 *
 * **Resource**: the listener stays the caller's; `run` ends with it.
 *
 * **Errors** (of `run`): `SocketServerError` (reason `Unknown`, the netfx
 * error as `cause`) when accepting fails for good (the listener closed).
 *
 * **Interruption**: interrupting `run` interrupts every handler and closes
 * every connection it served.
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 * import * as PlatformSocket from "@netfx/core/PlatformSocket"
 * import { Effect } from "effect"
 *
 * const echo = Effect.gen(function* () {
 *   const server = PlatformSocket.fromListener(yield* Tcp.listen({ host: "127.0.0.1", port: 0 }))
 *   return yield* server.run((socket) =>
 *     Effect.scoped(Effect.flatMap(socket.writer, (write) => socket.run((chunk) => write(chunk)))),
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromListener = (listener: Listener.Listener): Context.Tag.Service<SocketServer.SocketServer> => ({
  address: platformAddress(listener.address),
  run: <R, E, _>(handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>) =>
    listener
      .serve((conn) => Effect.flatMap(fromSocketStream(Effect.succeed(conn)), handler))
      .pipe(Effect.mapError((cause) => new SocketServer.SocketServerError({ reason: "Unknown", cause }))),
})

/**
 * `@effect/platform`'s `SocketServer` service as a Layer over a netfx TCP
 * listener (`Tcp.listen(options)`: dual stack, TLS with the `tls` option,
 * ...), closed with the Layer.
 *
 * **Resource**: the listener, for the Layer's lifetime.
 *
 * **Errors**: `SocketServerError` with reason `Open` (the netfx
 * `ListenFailed`, `ResolveFailed`, `InvalidArgument` or `Unsupported` as
 * `cause`) when the listener cannot be opened.
 *
 * @example
 * ```ts
 * import * as SocketServer from "@effect/platform/SocketServer"
 * import { NodeNetwork } from "@netfx/node"
 * import * as PlatformSocket from "@netfx/core/PlatformSocket"
 * import { Effect, Layer } from "effect"
 *
 * const ServerLive = PlatformSocket.layerServerTcp({ host: "127.0.0.1", port: 7000 }).pipe(
 *   Layer.provide(NodeNetwork.layer),
 * )
 * const serve = Effect.flatMap(SocketServer.SocketServer, (server) =>
 *   server.run((socket) => Effect.scoped(Effect.flatMap(socket.writer, (write) => write("hello\n")))),
 * ).pipe(Effect.provide(ServerLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServerTcp = (
  options: Tcp.ListenOptions,
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError, Network.Network> =>
  Layer.scoped(
    SocketServer.SocketServer,
    Effect.map(
      Effect.mapError(Tcp.listen(options), (cause) => new SocketServer.SocketServerError({ reason: "Open", cause })),
      fromListener,
    ),
  )

/**
 * `@effect/platform`'s `SocketServer` service as a Layer over a netfx Unix
 * stream listener (`Unix.listen(options)`: stale socket files
 * replaced, live ones not stolen, `mode`), closed with the Layer.
 *
 * **Resource**: the listener (and its socket file, removed on close), for
 * the Layer's lifetime.
 *
 * **Errors**: `SocketServerError` with reason `Open` (the netfx
 * `ListenFailed`, `InvalidArgument` or `Unsupported` as `cause`).
 *
 * @example
 * ```ts
 * import * as SocketServer from "@effect/platform/SocketServer"
 * import { NodeNetwork } from "@netfx/node"
 * import * as PlatformSocket from "@netfx/core/PlatformSocket"
 * import { Effect, Layer } from "effect"
 *
 * const ServerLive = PlatformSocket.layerServerUnix({ path: "/run/app.sock", mode: 0o660 }).pipe(
 *   Layer.provide(NodeNetwork.layer),
 * )
 * const address = Effect.map(SocketServer.SocketServer, (server) => server.address).pipe(Effect.provide(ServerLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServerUnix = (
  options: Unix.ListenOptions,
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError, Network.Network> =>
  Layer.scoped(
    SocketServer.SocketServer,
    Effect.map(
      Effect.mapError(Unix.listen(options), (cause) => new SocketServer.SocketServerError({ reason: "Open", cause })),
      fromListener,
    ),
  )
