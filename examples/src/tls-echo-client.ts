/**
 * AnyIO's TLS client (`connect_tcp(..., ssl_context=context)` with the
 * server's CA loaded), in netfx: connect with TLS, verify the server
 * against the CA, send "Client\n", print the reply.
 *
 *   tsx examples/src/tls-echo-client.ts --host localhost --port 1234 --ca ca.pem
 *
 * Without `--ca` the system's trusted CAs are used.
 */
import { readFileSync } from "node:fs"
import { Tcp } from "@netfx/core"
import * as Effect from "effect/Effect"
import { arg, decode, encode, isMain, runMain } from "./runtime.ts"

/** Connects with TLS (verification on), sends a name and returns the server's answer. */
export const client = (options: {
  readonly host: string
  readonly port: number
  /** PEM of the CA that signed the server certificate; default: the system CAs. */
  readonly ca?: string
  /** The name the certificate must carry; default: `host`. */
  readonly serverName?: string
}) =>
  Effect.gen(function* () {
    const conn = yield* Tcp.connect({
      host: options.host,
      port: options.port,
      // AnyIO leaves this to the caller's cancel scope; here it is an option
      timeout: "10 seconds",
      tls: {
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.serverName === undefined ? {} : { serverName: options.serverName }),
      },
    })
    yield* conn.send(encode("Client\n"))
    const response = yield* conn.receive()
    return decode(response)
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  const caFile = arg("ca", "")
  runMain(
    Effect.tap(
      client({
        host: arg("host", "localhost"),
        port: Number(arg("port", "1234")),
        ...(caFile === "" ? {} : { ca: readFileSync(caFile, "utf8") }),
      }),
      (reply) => Effect.sync(() => process.stdout.write(reply)),
    ),
  )
}
