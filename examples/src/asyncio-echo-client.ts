/**
 * The asyncio TCP echo client (asyncio streams docs), in netfx: connect,
 * send a message, print the echo, close.
 *
 *   tsx examples/src/asyncio-echo-client.ts --host 127.0.0.1 --port 8888 --message "Hello World!"
 *
 * Python original: `reader, writer = await asyncio.open_connection('127.0.0.1', 8888)`.
 */
import { Asyncio } from "@netfx/core"
import * as Effect from "effect/Effect"
import { arg, decode, isMain, runMain } from "./runtime.ts"

/** `tcp_echo_client(message)`; returns what the server sent back. */
export const echoClient = (options: { readonly host: string; readonly port: number; readonly message: string }) =>
  Effect.gen(function* () {
    const [reader, writer] = yield* Asyncio.openConnection(options.host, options.port)

    console.log(`Send: ${JSON.stringify(options.message)}`)
    yield* writer.write(options.message)

    const data = yield* reader.read(100)
    console.log(`Received: ${JSON.stringify(decode(data))}`)

    console.log("Close the connection")
    yield* writer.close
    yield* writer.waitClosed
    return decode(data)
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  runMain(
    echoClient({
      host: arg("host", "127.0.0.1"),
      port: Number(arg("port", "8888")),
      message: arg("message", "Hello World!"),
    }),
  )
}
