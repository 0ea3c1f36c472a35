/**
 * AnyIO's UDP "hello" service, in netfx: every datagram gets one datagram
 * back to its sender, its contents prefixed with "Hello, ". The service
 * iterates the endpoint's packets Stream (AnyIO's `async for packet, (host,
 * port) in udp`). As the seed's note advises, it binds `localhost` by
 * default, so it needs no address family.
 *
 *   tsx examples/src/udp-hello-server.ts --host localhost --port 1234
 */
import { type SocketAddress, Udp } from "@netfx/core"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { arg, encode, isMain, runMain } from "./runtime.ts"

/** "Hello, " followed by the datagram's bytes. */
export const greet = (packet: Uint8Array): Uint8Array => {
  const prefix = encode("Hello, ")
  const out = new Uint8Array(prefix.length + packet.length)
  out.set(prefix)
  out.set(packet, prefix.length)
  return out
}

/** Binds and answers every datagram until interrupted; `onBound` learns the bound address. */
export const server = (options: {
  readonly host?: string
  readonly port: number
  readonly onBound?: (address: SocketAddress.Ipv4 | SocketAddress.Ipv6) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const udp = yield* Udp.bind({
      port: options.port,
      ...(options.host === undefined ? {} : { host: options.host }),
    })
    if (options.onBound) yield* options.onBound(udp.localAddress)
    yield* Stream.runForEach(udp.packets, ({ data, address }) =>
      // one undeliverable reply (EMSGSIZE, no route...) must not stop the service
      udp
        .sendTo(greet(data), address)
        .pipe(Effect.catchTag("OperationFailed", (e) => Effect.logWarning(`reply not sent: ${e.message}`))),
    )
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  runMain(
    server({
      host: arg("host", "localhost"),
      port: Number(arg("port", "1234")),
      onBound: (address) => Effect.sync(() => console.log(`listening on ${address.port}`)),
    }),
  )
}
