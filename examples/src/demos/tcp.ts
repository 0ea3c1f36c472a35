import { SocketAddress } from "@netfx/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { client } from "../tcp-client.ts"
import { server } from "../tcp-server.ts"
import type { Demo } from "./Demo.ts"

export const demo: Demo = {
  title: "TCP: AnyIO's client and server (tcp-server.ts, tcp-client.ts)",
  run: Effect.gen(function* () {
    const bound = yield* Deferred.make<SocketAddress.SocketAddress>()
    const srv = yield* Effect.fork(
      server({ host: "127.0.0.1", port: 0, onListening: (a) => Deferred.succeed(bound, a) }),
    )
    const address = yield* Deferred.await(bound)
    console.log(`  server listening on ${SocketAddress.format(address)}`)
    const port = SocketAddress.isIp(address) ? address.port : 0
    for (const name of ["first", "second"]) {
      const reply = yield* client({ host: "127.0.0.1", port })
      console.log(`  client ${name} sent "Client\\n", got ${JSON.stringify(reply)}`)
    }
    yield* Fiber.interrupt(srv)
    console.log("  server stopped (listener closed by interruption)")
  }),
}
