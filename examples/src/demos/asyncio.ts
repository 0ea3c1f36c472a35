import { SocketAddress } from "@netfx/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { echoClient } from "../asyncio-echo-client.ts"
import { echoServer } from "../asyncio-echo-server.ts"
import type { Demo } from "./Demo.ts"

/** Indents what the example programs print, so the demo output reads as one block. */
const indented = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const log = console.log
      console.log = (...args: Array<unknown>) => log("   ", ...args)
      return log
    }),
    () => effect,
    (log) =>
      Effect.sync(() => {
        console.log = log
      }),
  )

export const demo: Demo = {
  title: "asyncio streams: the echo server and client (asyncio-echo-server.ts, asyncio-echo-client.ts)",
  run: indented(
    Effect.gen(function* () {
      const bound = yield* Deferred.make<SocketAddress.SocketAddress>()
      const srv = yield* Effect.fork(
        echoServer({ host: "127.0.0.1", port: 0, onListening: (a) => Deferred.succeed(bound, a) }),
      )
      const address = yield* Deferred.await(bound)
      const port = SocketAddress.isIp(address) ? address.port : 0
      const echoed = yield* echoClient({ host: "127.0.0.1", port, message: "Hello World!" })
      if (echoed !== "Hello World!") return yield* Effect.fail(`echo mismatch: ${JSON.stringify(echoed)}`)
      yield* Fiber.interrupt(srv)
      console.log("server stopped (interrupted: listener and connections closed)")
    }),
  ),
}
