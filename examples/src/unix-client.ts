/**
 * AnyIO's UNIX socket client, in netfx: connect to the socket, send
 * "Client\n", print the response.
 *
 *   tsx examples/src/unix-client.ts --path /tmp/mysock
 */
import { Unix } from "@netfx/core"
import * as Effect from "effect/Effect"
import { arg, decode, encode, isMain, runMain } from "./runtime.ts"

/** Sends `message` (default "Client\n") and returns the response's text. */
export const client = (options: { readonly path: string; readonly message?: string }) =>
  Effect.gen(function* () {
    const conn = yield* Unix.connect({ path: options.path })
    yield* conn.send(encode(options.message ?? "Client\n"))
    const response = yield* conn.receive(1024)
    return decode(response)
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  runMain(
    Effect.tap(client({ path: arg("path", "/tmp/mysock") }), (response) =>
      Effect.sync(() => process.stdout.write(response)),
    ),
  )
}
