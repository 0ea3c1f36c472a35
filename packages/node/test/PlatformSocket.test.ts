/**
 * netfx's `PlatformSocket` against `@effect/platform-node`'s own socket
 * implementation: a NodeSocket client talks to a netfx SocketServer, and a
 * netfx Socket talks to a NodeSocketServer, over loopback.
 */

import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { assert, describe, it } from "@effect/vitest"
import * as PlatformSocket from "@netfx/core/PlatformSocket"
import { NodeNetwork } from "@netfx/node"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"

const decoder = new TextDecoder()

/** Sends `message` over `socket` and collects the reply until it is `expected` long; closes cleanly. */
const exchange = (socket: Socket.Socket, message: string, expected: number) =>
  Effect.gen(function* () {
    let reply = ""
    const done = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(
      socket.run((chunk) =>
        Effect.suspend(() => {
          reply += decoder.decode(chunk)
          return reply.length >= expected ? Deferred.succeed(done, undefined) : Effect.void
        }),
      ),
    )
    yield* Effect.scoped(
      Effect.gen(function* () {
        const write = yield* socket.writer
        yield* write(message)
        yield* Deferred.await(done)
        yield* write(new Socket.CloseEvent(1000))
      }),
    )
    // NodeSocket reports its own clean close as SocketCloseError 1000; netfx's run just ends
    yield* Fiber.join(fiber).pipe(
      Effect.catchIf(
        Socket.SocketCloseError.isClean((code) => code === 1000),
        () => Effect.void,
      ),
    )
    return reply
  })

/** Echo, upper-cased, on any SocketServer. */
const upperEcho = Effect.gen(function* () {
  const server = yield* SocketServer.SocketServer
  yield* Effect.forkScoped(
    server.run((socket) =>
      Effect.scoped(
        Effect.flatMap(socket.writer, (write) => socket.run((chunk) => write(decoder.decode(chunk).toUpperCase()))),
      ),
    ),
  )
  const address = server.address
  return address._tag === "TcpAddress" ? address.port : -1
})

describe("PlatformSocket with @effect/platform-node", () => {
  it.live("a NodeSocket client talks to a netfx SocketServer", () =>
    Effect.gen(function* () {
      const port = yield* upperEcho
      const client = yield* NodeSocket.makeNet({ host: "127.0.0.1", port })
      assert.strictEqual(yield* exchange(client, "hello from NodeSocket", 21), "HELLO FROM NODESOCKET")
    }).pipe(
      Effect.scoped,
      Effect.provide(
        PlatformSocket.layerServerTcp({ host: "127.0.0.1", port: 0 }).pipe(Layer.provide(NodeNetwork.layer)),
      ),
    ),
  )

  it.live("a netfx Socket talks to a NodeSocketServer", () =>
    Effect.gen(function* () {
      const port = yield* upperEcho
      const client = yield* PlatformSocket.makeTcp({ host: "localhost", port })
      assert.strictEqual(yield* exchange(client, "hello from netfx", 16), "HELLO FROM NETFX")
    }).pipe(
      Effect.scoped,
      Effect.provide(NodeNetwork.layer),
      Effect.provide(NodeSocketServer.layer({ host: "127.0.0.1", port: 0 })),
    ),
  )
})
