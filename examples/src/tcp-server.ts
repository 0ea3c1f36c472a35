/**
 * AnyIO's TCP server, in netfx: every client sends its name and gets
 * "Hello, <name>" back.
 *
 *   tsx examples/src/tcp-server.ts --port 1234
 */
import { type Listener, type SocketAddress, type SocketStream, Tcp } from "@netfx/core"
import * as Effect from "effect/Effect"
import { arg, decode, encode, isMain, runMain } from "./runtime.ts"

/** The per-connection handler: read a name, greet it. */
export const handle = (client: SocketStream.SocketStream) =>
  Effect.gen(function* () {
    const name = yield* client.receive(1024)
    yield* client.send(encode(`Hello, ${decode(name)}\n`))
  })

/** Listens and serves until interrupted; `onListening` learns the bound address. */
export const server = (options: {
  readonly host?: string
  readonly port: number
  readonly onListening?: (address: SocketAddress.SocketAddress) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const listener: Listener.Listener = yield* Tcp.listen({
      port: options.port,
      ...(options.host === undefined ? {} : { host: options.host }),
    })
    if (options.onListening) yield* options.onListening(listener.address)
    return yield* listener.serve(handle)
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  runMain(
    server({
      host: arg("host", "127.0.0.1"),
      port: Number(arg("port", "1234")),
      onListening: (address) =>
        Effect.sync(() =>
          console.log(`listening on ${address._tag === "Ipv4" || address._tag === "Ipv6" ? address.port : ""}`),
        ),
    }),
  )
}
