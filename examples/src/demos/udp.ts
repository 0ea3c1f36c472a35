import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { client } from "../udp-client.ts"
import { server } from "../udp-hello-server.ts"
import type { Demo } from "./Demo.ts"

export const demo: Demo = {
  title: 'UDP: AnyIO\'s "hello" service and connected client (udp-hello-server.ts, udp-client.ts)',
  run: Effect.gen(function* () {
    const bound = yield* Deferred.make<number>()
    const srv = yield* Effect.fork(
      server({ host: "localhost", port: 0, onBound: (a) => Deferred.succeed(bound, a.port) }),
    )
    const port = yield* Deferred.await(bound)
    console.log(`  hello service bound on localhost:${port}`)
    for (const message of ["Hi there!\n", "netfx"]) {
      const reply = yield* client({ host: "localhost", port, message })
      console.log(`  client sent ${JSON.stringify(message)}, got ${JSON.stringify(reply)}`)
    }
    yield* Fiber.interrupt(srv)
    console.log("  service stopped (socket closed by interruption)")
  }),
}
