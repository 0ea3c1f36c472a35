/**
 * AnyIO's UNIX datagram "hello" service, in netfx: for every datagram,
 * send "Hello, " + datagram back to the sender's path.
 *
 *   tsx examples/src/unix-datagram-hello.ts --path /tmp/mysock
 */
import { type SocketAddress, UnixDatagram } from "@netfx/core"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { arg, encode, isMain, runMain } from "./runtime.ts"

const hello = encode("Hello, ")

/** Binds `path` and answers every datagram until interrupted. */
export const server = (options: {
  readonly path: string
  readonly onBound?: (address: SocketAddress.SocketAddress) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const socket = yield* UnixDatagram.bind({ path: options.path })
    if (options.onBound) yield* options.onBound(socket.localAddress)
    // `async for packet, path in unix_dg` is a Stream of packets
    yield* Stream.runForEach(socket.packets, ({ data, address }) => {
      const reply = new Uint8Array(hello.length + data.length)
      reply.set(hello)
      reply.set(data, hello.length)
      // an unnamed sender cannot be answered: skip it instead of failing the service
      return address._tag === "UnixPath" && address.path === "" ? Effect.void : socket.sendTo(reply, address)
    })
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  const path = arg("path", "/tmp/mysock")
  runMain(server({ path, onBound: () => Effect.sync(() => console.log(`bound to ${path}`)) }))
}
