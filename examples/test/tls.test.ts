import { assert, describe, it } from "@effect/vitest"
import { SocketAddress } from "@netfx/core"
import * as Certs from "@netfx/core/testing/certs"
import { NodeNetwork } from "@netfx/node"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { client } from "../src/tls-echo-client.ts"
import { server } from "../src/tls-echo-server.ts"
import { start } from "./support.ts"

describe("TLS examples", () => {
  it.live("server and client as functions: verified round trip, refused without the CA", () =>
    Effect.gen(function* () {
      const certs = yield* Certs.make
      const bound = yield* Deferred.make<SocketAddress.SocketAddress>()
      const srv = yield* Effect.fork(
        server({
          host: "127.0.0.1",
          port: 0,
          cert: certs.server.cert,
          key: certs.server.key,
          onListening: (a) => Deferred.succeed(bound, a),
        }),
      )
      const address = yield* Deferred.await(bound)
      const port = SocketAddress.isIp(address) ? address.port : 0
      const reply = yield* client({ host: "127.0.0.1", port, ca: certs.ca.cert, serverName: "localhost" })
      assert.strictEqual(reply, "Hello, Client\n\n")
      const refused = yield* Effect.flip(client({ host: "127.0.0.1", port }))
      assert.strictEqual(refused._tag, "TlsFailed")
      yield* Fiber.interrupt(srv)
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)),
  )

  it.live("tls-echo-server.ts and tls-echo-client.ts run as programs", () =>
    Effect.gen(function* () {
      const certs = yield* Certs.make
      const srv = yield* start("tls-echo-server.ts", [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--cert",
        certs.server.certFile,
        "--key",
        certs.server.keyFile,
      ])
      const port = srv.line.replace("listening on ", "")
      assert.match(port, /^\d+$/)
      const cli = yield* start("tls-echo-client.ts", ["--host", "localhost", "--port", port, "--ca", certs.ca.certFile])
      assert.strictEqual(cli.line, "Hello, Client")
    }).pipe(Effect.scoped),
  )
})
