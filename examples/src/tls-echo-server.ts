/**
 * AnyIO's TLS server (`TLSListener` over `create_tcp_listener`), in netfx:
 * every client sends its name over TLS and gets "Hello, <name>" back.
 *
 *   tsx examples/src/tls-echo-server.ts --port 1234 --cert cert.pem --key key.pem
 *
 * Without `--cert`/`--key` it generates a throwaway CA and server
 * certificate with the `openssl` CLI and prints where the CA is (pass it to
 * the client with `--ca`); the files are deleted when the server stops.
 */
import { readFileSync } from "node:fs"
import { type Listener, type SocketAddress, type SocketStream, Tcp, Tls } from "@netfx/core"
import * as Certs from "@netfx/core/testing/certs"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { arg, decode, encode, isMain, runMain } from "./runtime.ts"

/** The per-connection handler: read a name, greet it. */
export const handle = (client: SocketStream.SocketStream) =>
  Effect.gen(function* () {
    // session facts are typed attributes (AnyIO's `extra(TLSAttribute.tls_version)`)
    const version = Option.getOrElse(client.attribute(Tls.Version), () => "no TLS")
    yield* Effect.logDebug(`client connected over ${version}`)
    const name = yield* client.receive(1024)
    yield* client.send(encode(`Hello, ${decode(name)}\n`))
  })

/** Listens with TLS and serves until interrupted; `onListening` learns the bound address. */
export const server = (options: {
  readonly host?: string
  readonly port: number
  readonly cert: string
  readonly key: string
  readonly alpnProtocols?: ReadonlyArray<string>
  readonly onListening?: (address: SocketAddress.SocketAddress) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const listener: Listener.Listener = yield* Tcp.listen({
      port: options.port,
      ...(options.host === undefined ? {} : { host: options.host }),
      tls: {
        cert: options.cert,
        key: options.key,
        ...(options.alpnProtocols === undefined ? {} : { alpnProtocols: options.alpnProtocols }),
      },
    })
    if (options.onListening) yield* options.onListening(listener.address)
    return yield* listener.serve(handle)
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  const certFile = arg("cert", "")
  const keyFile = arg("key", "")
  const program = Effect.gen(function* () {
    let cert: string
    let key: string
    if (certFile !== "" && keyFile !== "") {
      cert = readFileSync(certFile, "utf8")
      key = readFileSync(keyFile, "utf8")
    } else {
      const generated = yield* Certs.make
      console.error(`generated a throwaway CA: ${generated.ca.certFile} (client: --ca ${generated.ca.certFile})`)
      cert = generated.server.cert
      key = generated.server.key
    }
    return yield* server({
      host: arg("host", "127.0.0.1"),
      port: Number(arg("port", "1234")),
      cert,
      key,
      onListening: (address) =>
        Effect.sync(() =>
          console.log(`listening on ${address._tag === "Ipv4" || address._tag === "Ipv6" ? address.port : ""}`),
        ),
    })
  }).pipe(Effect.scoped)
  runMain(program)
}
