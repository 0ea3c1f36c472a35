import { SocketAddress, Tcp, Tls } from "@netfx/core"
import * as Certs from "@netfx/core/testing/certs"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { client } from "../tls-echo-client.ts"
import { server } from "../tls-echo-server.ts"
import type { Demo } from "./Demo.ts"

const program = Effect.gen(function* () {
  const certs = yield* Certs.make
  console.log(`  generated a test CA and a server certificate for localhost with openssl in ${certs.dir}`)
  const bound = yield* Deferred.make<SocketAddress.SocketAddress>()
  const srv = yield* Effect.fork(
    server({
      host: "127.0.0.1",
      port: 0,
      cert: certs.server.cert,
      key: certs.server.key,
      alpnProtocols: ["netfx-demo"],
      onListening: (a) => Deferred.succeed(bound, a),
    }),
  )
  const address = yield* Deferred.await(bound)
  console.log(`  TLS server listening on ${SocketAddress.format(address)}`)
  const port = SocketAddress.isIp(address) ? address.port : 0
  const reply = yield* client({ host: "127.0.0.1", port, ca: certs.ca.cert, serverName: "localhost" })
  console.log(`  client verified the server against the test CA, sent "Client\\n", got ${JSON.stringify(reply)}`)
  // the session facts, on a connection of our own
  yield* Effect.scoped(
    Effect.gen(function* () {
      const conn = yield* Tcp.connect({
        host: "127.0.0.1",
        port,
        tls: { ca: certs.ca.cert, serverName: "localhost", alpnProtocols: ["netfx-demo"] },
      })
      yield* conn.send(new TextEncoder().encode("facts"))
      yield* conn.receive()
      const info = Option.getOrThrow(Tls.info(conn))
      const peer = Option.getOrThrow(info.peerCertificate)
      console.log(
        `  session: ${info.version}, ${info.cipher.standardName}, ALPN ${Option.getOrElse(info.alpnProtocol, () => "none")}, ` +
          `server certificate CN=${peer.subject.CN} issued by CN=${peer.issuer.CN}`,
      )
    }),
  )
  // verification is on by default: without the test CA the handshake fails, typed
  const refused = yield* Effect.flip(client({ host: "127.0.0.1", port }))
  console.log(
    `  without the CA: ${refused._tag}${refused._tag === "TlsFailed" ? ` ${refused.code}` : ""} (the server keeps serving)`,
  )
  yield* Fiber.interrupt(srv)
  console.log("  server stopped (listener closed by interruption)")
}).pipe(Effect.scoped)

export const demo: Demo = {
  title: "TLS: AnyIO's TLS client and server (tls-echo-server.ts, tls-echo-client.ts)",
  run: program.pipe(
    Effect.catchTag("Unsupported", (e) =>
      Effect.sync(() => console.log(`  skipped: TLS is unsupported on ${e.runtime}: ${e.reason}`)),
    ),
  ),
}
