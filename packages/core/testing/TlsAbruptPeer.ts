/**
 * A TLS client against a peer that goes away mid-handshake, for every
 * runtime: the runtime's TLS stack may report it a tick later from its own
 * handlers; it must come out as `TlsFailed`, never as an uncaught exception
 * (vitest fails the run on any unhandled error).
 *
 * @since 0.1.0
 */

import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Tcp from "../src/Tcp.ts"
import type { ContractEnvironment } from "./StreamContract.ts"

/** A TCP peer that reads the ClientHello, then ends (FIN) or resets the connection. */
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

/**
 * Registers the mid-handshake end/reset tests for one environment.
 *
 * @since 0.1.0
 */
export const tlsAbruptPeer = (env: ContractEnvironment): void => {
  describe(`TLS client against a peer that goes away mid-handshake (${env.name})`, () => {
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
        }).pipe(Effect.scoped, Effect.provide(env.layer)),
      )
    }
  })
}
