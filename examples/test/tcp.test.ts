import { assert, describe, it } from "@effect/vitest"
import { SocketAddress } from "@netfx/core"
import { NodeNetwork } from "@netfx/node"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { client } from "../src/tcp-client.ts"
import { server } from "../src/tcp-server.ts"
import { start } from "./support.ts"

describe("TCP examples", () => {
  it.live("server and client as functions", () =>
    Effect.gen(function* () {
      const bound = yield* Deferred.make<SocketAddress.SocketAddress>()
      const srv = yield* Effect.fork(
        server({ host: "127.0.0.1", port: 0, onListening: (a) => Deferred.succeed(bound, a) }),
      )
      const address = yield* Deferred.await(bound)
      const reply = yield* client({ host: "127.0.0.1", port: SocketAddress.isIp(address) ? address.port : 0 })
      assert.strictEqual(reply, "Hello, Client\n\n")
      yield* Fiber.interrupt(srv)
    }).pipe(Effect.provide(NodeNetwork.layer)),
  )

  it.live("tcp-server.ts and tcp-client.ts run as programs", () =>
    Effect.gen(function* () {
      const srv = yield* start("tcp-server.ts", ["--host", "127.0.0.1", "--port", "0"])
      const port = srv.line.replace("listening on ", "")
      assert.match(port, /^\d+$/)
      const cli = yield* start("tcp-client.ts", ["--host", "127.0.0.1", "--port", port])
      assert.strictEqual(cli.line, "Hello, Client")
    }).pipe(Effect.scoped),
  )
})
