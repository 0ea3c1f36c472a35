import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { BunNetwork } from "@netfx/bun"
import { Tcp } from "@netfx/core"
import * as Effect from "effect/Effect"

// A peer that reads the ClientHello and then ends the TCP stream (FIN, or a
// reset) mid-handshake: node:tls reports that one tick later from its own
// 'end' handler. It must come out as a TlsFailed, never as an uncaught
// exception (vitest fails the run on any unhandled error).
const abruptPeer = (mode: "end" | "reset") =>
  Effect.acquireRelease(
    Effect.async<net.Server>((resume) => {
      const server = net.createServer((socket) => {
        socket.once("data", () => (mode === "end" ? socket.end() : socket.resetAndDestroy()))
        socket.on("error", () => {})
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.sync(() => server.close()),
  )

describe("TLS client against a peer that goes away mid-handshake (bun)", () => {
  for (const mode of ["end", "reset"] as const) {
    it.live(`${mode}: TlsFailed every time, no uncaught error`, () =>
      Effect.gen(function* () {
        const server = yield* abruptPeer(mode)
        const address = server.address() as net.AddressInfo
        for (let i = 0; i < 50; i++) {
          const error = yield* Effect.flip(
            Effect.scoped(Tcp.connect({ host: "127.0.0.1", port: address.port, tls: { serverName: "localhost" } })),
          )
          assert.strictEqual(error._tag, "TlsFailed")
        }
        // let any late 'error' event fire while the test still runs
        yield* Effect.sleep("50 millis")
      }).pipe(Effect.scoped, Effect.provide(BunNetwork.layer)),
    )
  }
})
