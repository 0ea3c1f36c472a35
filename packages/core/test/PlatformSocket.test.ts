import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { assert, describe, it } from "@effect/vitest"
import { MemoryNetwork, Tcp, Unix } from "@netfx/core"
import * as PlatformSocket from "@netfx/core/PlatformSocket"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

const decoder = new TextDecoder()
const text = (chunks: ReadonlyArray<Uint8Array>) => chunks.map((c) => decoder.decode(c)).join("")

/** An echo server behind @effect/platform's SocketServer interface, on the memory network. */
const echoServer = Effect.gen(function* () {
  const server = yield* SocketServer.SocketServer
  yield* Effect.forkScoped(
    server.run((socket) =>
      Effect.scoped(Effect.flatMap(socket.writer, (write) => socket.run((chunk) => write(chunk)))),
    ),
  )
  return server.address
})

const network = MemoryNetwork.layer({ hosts: { "echo.test": "10.0.0.7" } })
const ServerLive = PlatformSocket.layerServerTcp({ host: "echo.test", port: 7 })

describe("PlatformSocket: netfx as @effect/platform Socket and SocketServer", () => {
  it.effect("a platform client and a platform server talk over the memory network", () =>
    Effect.gen(function* () {
      const address = yield* echoServer
      assert.deepStrictEqual(address, { _tag: "TcpAddress", hostname: "10.0.0.7", port: 7 })
      const socket = yield* PlatformSocket.makeTcp({ host: "echo.test", port: 7 })
      const received: Array<Uint8Array> = []
      const done = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        socket.run((chunk) =>
          Effect.suspend(() => {
            received.push(chunk)
            return text(received) === "hello, platform" ? Deferred.succeed(done, undefined) : Effect.void
          }),
        ),
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const write = yield* socket.writer
          yield* write("hello, ")
          yield* write(new TextEncoder().encode("platform"))
          yield* Deferred.await(done)
          // a clean close ends the run without an error
          yield* write(new Socket.CloseEvent(1000))
        }),
      )
      yield* Fiber.join(fiber)
      assert.strictEqual(text(received), "hello, platform")
    }).pipe(Effect.scoped, Effect.provide(ServerLive.pipe(Layer.provideMerge(network)))),
  )

  it.effect("the client's end of stream ends the server's run; Socket.toChannel works on top", () =>
    Effect.gen(function* () {
      const ended = yield* Deferred.make<string>()
      const server = yield* SocketServer.SocketServer
      yield* Effect.forkScoped(
        server.run((socket) => {
          const got: Array<Uint8Array> = []
          return Effect.zipRight(
            socket.run((chunk) => {
              got.push(chunk)
            }),
            Effect.suspend(() => Deferred.succeed(ended, text(got))),
          )
        }),
      )
      const socket = yield* PlatformSocket.makeTcp({ host: "echo.test", port: 7 })
      // Socket.toChannel: the platform's own Channel view, fed by a Stream
      const outcome = yield* Stream.make(new TextEncoder().encode("bye")).pipe(
        Stream.pipeThroughChannel(Socket.toChannel<never>(socket)),
        Stream.runCollect,
        Effect.timeout("5 seconds"),
        Effect.either,
      )
      assert.strictEqual(yield* Deferred.await(ended), "bye")
      // the server never wrote: the client's channel ends with the server's close
      assert.strictEqual(outcome._tag, "Right")
      assert.isTrue(outcome._tag === "Right" && Chunk.isEmpty(outcome.right))
    }).pipe(Effect.scoped, Effect.provide(ServerLive.pipe(Layer.provideMerge(network)))),
  )

  it.effect("errors are SocketErrors with the netfx error as cause; a non-1000 CloseEvent fails the run", () =>
    Effect.gen(function* () {
      // nobody listens: Open, with ConnectFailed ECONNREFUSED as cause
      const refused = yield* PlatformSocket.makeTcp({ host: "10.0.0.99", port: 1 })
      const open = yield* Effect.flip(refused.run(() => {}))
      assert.strictEqual(open._tag, "SocketError")
      assert.strictEqual(open.reason, "Open")
      const cause = (open as Socket.SocketGenericError).cause as {
        readonly _tag: string
        readonly attempts: ReadonlyArray<{ readonly code: string }>
      }
      assert.strictEqual(cause._tag, "ConnectFailed")
      assert.strictEqual(cause.attempts[0]?.code, "ECONNREFUSED")
      // a CloseEvent with another code fails the run with SocketCloseError
      yield* echoServer
      const socket = yield* PlatformSocket.makeTcp({ host: "echo.test", port: 7 })
      const fiber = yield* Effect.fork(socket.run(() => {}))
      yield* Effect.scoped(Effect.flatMap(socket.writer, (write) => write(new Socket.CloseEvent(4000, "going away"))))
      const closed = yield* Effect.flip(Fiber.join(fiber))
      assert.isTrue(Socket.SocketCloseError.is(closed))
      assert.strictEqual((closed as Socket.SocketCloseError).code, 4000)
      // a listen that cannot happen: SocketServerError Open
      const busy = yield* Effect.flip(Layer.build(PlatformSocket.layerServerTcp({ host: "echo.test", port: 7 })))
      assert.strictEqual(busy.reason, "Open")
      assert.strictEqual((busy.cause as { readonly code: string }).code, "EADDRINUSE")
      // a Unix listener's address
      const unix = PlatformSocket.fromListener(yield* Unix.listen({ path: "/run/platform.sock" }))
      assert.deepStrictEqual(unix.address, { _tag: "UnixAddress", path: "/run/platform.sock" })
    }).pipe(Effect.scoped, Effect.provide(ServerLive.pipe(Layer.provideMerge(network)))),
  )

  it.effect("a Unix SocketServer and a Unix client Socket", () =>
    Effect.gen(function* () {
      const server = yield* SocketServer.SocketServer
      assert.deepStrictEqual(server.address, { _tag: "UnixAddress", path: "/run/echo.sock" })
      yield* Effect.forkScoped(
        server.run((socket) =>
          Effect.scoped(Effect.flatMap(socket.writer, (write) => socket.run((chunk) => write(chunk)))),
        ),
      )
      // the client through layerUnix, as an application would get it
      const socket = yield* Effect.provide(Socket.Socket, PlatformSocket.layerUnix({ path: "/run/echo.sock" }))
      const got = yield* Deferred.make<string>()
      const fiber = yield* Effect.fork(socket.run((chunk) => Deferred.succeed(got, decoder.decode(chunk))))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const write = yield* socket.writer
          yield* write("over a Unix socket")
          assert.strictEqual(yield* Deferred.await(got), "over a Unix socket")
          yield* write(new Socket.CloseEvent(1000))
        }),
      )
      yield* Fiber.join(fiber)
    }).pipe(
      Effect.scoped,
      Effect.provide(PlatformSocket.layerServerUnix({ path: "/run/echo.sock" }).pipe(Layer.provideMerge(network))),
    ),
  )

  it.effect("the connect effect may carry the user's own errors: Effect.timeout, a custom error", () =>
    Effect.gen(function* () {
      yield* echoServer
      // Effect.timeout adds TimeoutException to the connect's errors: accepted, and it works
      const timed = yield* PlatformSocket.fromSocketStream(
        Tcp.connect({ host: "echo.test", port: 7 }).pipe(Effect.timeout("5 seconds")),
      )
      const got = yield* Deferred.make<string>()
      const fiber = yield* Effect.fork(timed.run((chunk) => Deferred.succeed(got, decoder.decode(chunk))))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const write = yield* timed.writer
          yield* write("timed")
          assert.strictEqual(yield* Deferred.await(got), "timed")
          yield* write(new Socket.CloseEvent(1000))
        }),
      )
      yield* Fiber.join(fiber)
      // a failure of the user's own becomes the cause of an Open error
      class NotAllowed extends Data.TaggedError("NotAllowed")<{}> {}
      const refused = yield* PlatformSocket.fromSocketStream(
        Effect.zipRight(Effect.fail(new NotAllowed()), Tcp.connect({ host: "echo.test", port: 7 })),
      )
      const error = yield* Effect.flip(refused.run(() => Effect.void))
      assert.isTrue(Socket.isSocketError(error))
      assert.strictEqual(error._tag, "SocketError")
      assert.strictEqual((error as Socket.SocketGenericError).reason, "Open")
      assert.instanceOf((error as Socket.SocketGenericError).cause, NotAllowed)
    }).pipe(Effect.scoped, Effect.provide(ServerLive.pipe(Layer.provideMerge(network)))),
  )
})
