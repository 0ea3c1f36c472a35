/**
 * Code written against `@effect/platform`'s `Socket` / `SocketServer`
 * interfaces, run over netfx: the same service and client over real
 * loopback TCP (`NodeNetwork` or `BunNetwork`) and over `MemoryNetwork` (virtual time,
 * 25 ms latency, exact round trips).
 *
 *   tsx examples/src/platform-socket.ts
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { MemoryNetwork } from "@netfx/core"
import * as PlatformSocket from "@netfx/core/PlatformSocket"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { decode, isMain, NetworkLive } from "./runtime.ts"

// ---------------------------------------------------------------------------
// Platform code: knows nothing of netfx.
// ---------------------------------------------------------------------------

/** A server that answers every chunk with its length, as text. */
export const lengthService = Effect.gen(function* () {
  const server = yield* SocketServer.SocketServer
  return yield* server.run((socket) =>
    Effect.scoped(Effect.flatMap(socket.writer, (write) => socket.run((chunk) => write(`${chunk.length}\n`)))),
  )
})

/** Asks `socket` for the length of `message`; closes cleanly. */
export const askLength = (socket: Socket.Socket, message: string) =>
  Effect.gen(function* () {
    const answer = yield* Deferred.make<string>()
    const reader = yield* Effect.fork(socket.run((chunk) => Deferred.succeed(answer, decode(chunk).trim())))
    const reply = yield* Effect.scoped(
      Effect.gen(function* () {
        const write = yield* socket.writer
        yield* write(message)
        const reply = yield* Deferred.await(answer)
        yield* write(new Socket.CloseEvent(1000))
        return reply
      }),
    )
    yield* Fiber.join(reader)
    return reply
  })

// ---------------------------------------------------------------------------
// Wiring it to netfx.
// ---------------------------------------------------------------------------

/** The service on a netfx listener and one request through a netfx client socket, over `network`. */
const roundTrip = (message: string) =>
  Effect.gen(function* () {
    const server = yield* SocketServer.SocketServer
    yield* Effect.forkScoped(lengthService)
    const { hostname, port } = server.address as SocketServer.TcpAddress
    const socket = yield* PlatformSocket.makeTcp({ host: hostname, port })
    const start = yield* Clock.currentTimeMillis
    const reply = yield* askLength(socket, message)
    return { reply, millis: (yield* Clock.currentTimeMillis) - start }
  })

const ServerLayer = PlatformSocket.layerServerTcp({ host: "127.0.0.1", port: 0 })

/** Over the `Network` in context: real loopback TCP with `NodeNetwork` or `BunNetwork`. */
export const overNetwork = roundTrip("hello, platform").pipe(
  Effect.map(({ reply }) => reply),
  Effect.scoped,
  Effect.provide(ServerLayer),
)

/** Over the memory network with 25 ms latency: a connect and a round trip, exactly 100 ms. Needs `TestServices`. */
export const inMemory = Effect.gen(function* () {
  const fiber = yield* Effect.fork(
    Effect.gen(function* () {
      const control = yield* MemoryNetwork.Control
      yield* control.setFaults({ latency: "25 millis" })
      return yield* roundTrip("hello, memory")
    }).pipe(Effect.scoped, Effect.provide(ServerLayer.pipe(Layer.provideMerge(MemoryNetwork.layer())))),
  )
  yield* TestClock.adjust("1 minute")
  return yield* Fiber.join(fiber)
})

if (isMain(import.meta.url)) {
  Effect.runPromise(
    Effect.all({
      loopback: Effect.provide(overNetwork, NetworkLive),
      memory: inMemory.pipe(Effect.provide(TestContext.TestContext)),
    }),
  ).then(
    (results) => console.log(JSON.stringify(results)),
    (e) => {
      console.error(e)
      process.exitCode = 1
    },
  )
}
