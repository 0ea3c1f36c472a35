/**
 * AnyIO's UNIX socket listener, in netfx: every client sends its name and
 * gets "Hello, <name>" back. Unlike AnyIO's listener, netfx removes the
 * socket file when the listener closes (and refuses to steal a path a live
 * server holds).
 *
 *   tsx examples/src/unix-server.ts --path /tmp/mysock
 */
import { type SocketAddress, type SocketStream, Unix } from "@netfx/core"
import * as Effect from "effect/Effect"
import { arg, decode, encode, isMain, runMain } from "./runtime.ts"

/** The per-connection handler: read a name, greet it. */
export const handle = (client: SocketStream.SocketStream) =>
  Effect.gen(function* () {
    const name = yield* client.receive(1024)
    yield* client.send(encode(`Hello, ${decode(name)}\n`))
  })

/** Listens on `path` and serves until interrupted. */
export const server = (options: {
  readonly path: string
  readonly onListening?: (address: SocketAddress.SocketAddress) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const listener = yield* Unix.listen({ path: options.path })
    if (options.onListening) yield* options.onListening(listener.address)
    return yield* listener.serve(handle)
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  const path = arg("path", "/tmp/mysock")
  runMain(server({ path, onListening: () => Effect.sync(() => console.log(`listening on ${path}`)) }))
}
