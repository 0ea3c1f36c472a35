/**
 * The asyncio TCP echo server (asyncio streams docs), in netfx: each client
 * sends up to 100 bytes and gets them back, then the connection closes.
 *
 *   tsx examples/src/asyncio-echo-server.ts --host 127.0.0.1 --port 8888
 *
 * Python original: `asyncio.start_server(handle_echo, '127.0.0.1', 8888)`
 * then `server.serve_forever()`.
 */
import { Asyncio, SocketAddress } from "@netfx/core"
import * as Effect from "effect/Effect"
import { arg, decode, isMain, runMain } from "./runtime.ts"

/** `handle_echo(reader, writer)`: read up to 100 bytes, echo them, close. */
export const handleEcho = (reader: Asyncio.StreamReader, writer: Asyncio.StreamWriter) =>
  Effect.gen(function* () {
    const data = yield* reader.read(100)
    const message = decode(data)
    const addr = writer.extraInfo("peername")
    console.log(`Received ${JSON.stringify(message)} from ${SocketAddress.format(addr)}`)

    console.log(`Send: ${JSON.stringify(message)}`)
    yield* writer.write(data)
    yield* writer.drain

    console.log("Close the connection")
    yield* writer.close
  })

/**
 * `main()`: start the server, report where it listens, serve until
 * interrupted (the Scope closes the listener and every connection).
 */
export const echoServer = (options: {
  readonly host: string
  readonly port: number
  readonly onListening?: (address: SocketAddress.SocketAddress) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const server = yield* Asyncio.startServer(handleEcho, options.host, options.port)
    console.log(`Serving on ${SocketAddress.format(server.sockets[0] ?? server.address)}`)
    if (options.onListening) yield* options.onListening(server.address)
    yield* server.serveForever
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  runMain(echoServer({ host: arg("host", "127.0.0.1"), port: Number(arg("port", "8888")) }))
}
