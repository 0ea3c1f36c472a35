/**
 * AnyIO's TCP client, in netfx: connect, send "Client\n", print the reply.
 *
 *   tsx examples/src/tcp-client.ts --host localhost --port 1234
 */
import { Tcp } from "@netfx/core"
import * as Effect from "effect/Effect"
import { arg, decode, encode, isMain, runMain } from "./runtime.ts"

/** Connects, sends a name and returns the server's answer. */
export const client = (options: { readonly host: string; readonly port: number }) =>
  Effect.gen(function* () {
    const conn = yield* Tcp.connect({ host: options.host, port: options.port })
    yield* conn.send(encode("Client\n"))
    const response = yield* conn.receive()
    return decode(response)
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  runMain(
    Effect.tap(client({ host: arg("host", "localhost"), port: Number(arg("port", "1234")) }), (reply) =>
      Effect.sync(() => process.stdout.write(reply)),
    ),
  )
}
