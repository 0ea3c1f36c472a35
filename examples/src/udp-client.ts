/**
 * AnyIO's connected UDP client, in netfx: "connect" a UDP socket to one
 * peer so `send` needs no address, send "Hi there!\n", and (beyond the
 * seed, so there is something to show) print the one reply the "hello"
 * service sends back. UDP promises nothing: the reply is awaited for at
 * most `timeout` (then it fails with a `TimeoutException`).
 *
 *   tsx examples/src/udp-client.ts --host localhost --port 1234
 */
import { Udp } from "@netfx/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { arg, decode, encode, isMain, runMain } from "./runtime.ts"

/** Sends `message` to host:port over a connected UDP socket and returns the reply's text. */
export const client = (options: {
  readonly host: string
  readonly port: number
  readonly message?: string
  readonly timeout?: Duration.DurationInput
}) =>
  Effect.gen(function* () {
    const udp = yield* Udp.connect({ host: options.host, port: options.port })
    yield* udp.send(encode(options.message ?? "Hi there!\n"))
    const reply = yield* udp.receive().pipe(Effect.timeout(options.timeout ?? "5 seconds"))
    return decode(reply)
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  runMain(
    Effect.tap(client({ host: arg("host", "localhost"), port: Number(arg("port", "1234")) }), (reply) =>
      Effect.sync(() => process.stdout.write(reply)),
    ),
  )
}
