import { assert, describe, it } from "@effect/vitest"
import { SocketAddress } from "@netfx/core"
import { NodeNetwork } from "@netfx/node"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { echoClient } from "../src/asyncio-echo-client.ts"
import { echoServer } from "../src/asyncio-echo-server.ts"
import { demo } from "../src/demos/asyncio.ts"
import { start } from "./support.ts"

describe("asyncio echo examples", () => {
  it.live("server and client as functions", () =>
    Effect.gen(function* () {
      const bound = yield* Deferred.make<SocketAddress.SocketAddress>()
      const srv = yield* Effect.fork(
        echoServer({ host: "127.0.0.1", port: 0, onListening: (a) => Deferred.succeed(bound, a) }),
      )
      const address = yield* Deferred.await(bound)
      const port = SocketAddress.isIp(address) ? address.port : 0
      assert.strictEqual(yield* echoClient({ host: "127.0.0.1", port, message: "Hello World!" }), "Hello World!")
      assert.strictEqual(yield* echoClient({ host: "127.0.0.1", port, message: "again, ünïcode" }), "again, ünïcode")
      yield* Fiber.interrupt(srv)
    }).pipe(Effect.provide(NodeNetwork.layer)),
  )

  it.live("asyncio-echo-server.ts and asyncio-echo-client.ts run as programs", () =>
    Effect.gen(function* () {
      const srv = yield* start("asyncio-echo-server.ts", ["--host", "127.0.0.1", "--port", "0"])
      const match = /^Serving on 127\.0\.0\.1:(\d+)$/.exec(srv.line)
      assert.isNotNull(match, srv.line)
      const cli = yield* start("asyncio-echo-client.ts", ["--port", match?.[1] ?? "", "--message", "Hello World!"])
      assert.strictEqual(cli.line, 'Send: "Hello World!"')
      const output = yield* Effect.promise(() => cli.rest)
      assert.strictEqual(output, 'Send: "Hello World!"\nReceived: "Hello World!"\nClose the connection\n')
    }).pipe(Effect.scoped),
  )

  it.live("the demo entry runs", () => demo.run.pipe(Effect.provide(NodeNetwork.layer)))
})
