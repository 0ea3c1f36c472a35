/**
 * AnyIO's connected UNIX datagram client, in netfx: "connect" a datagram
 * socket to one path so `send` needs no address, and send "Hi there!\n".
 * The seed sends to /dev/log; this one sends to the "hello" service's path.
 * Beyond the seed (so there is something to show), when `localPath` is
 * given the socket is bound there and the one reply is returned.
 *
 *   tsx examples/src/unix-datagram-client.ts --path /tmp/mysock --local /tmp/mysock.client
 */
import { UnixDatagram } from "@netfx/core"
import * as Effect from "effect/Effect"
import { arg, decode, encode, isMain, runMain } from "./runtime.ts"

/** Sends `message` to `path`; with `localPath`, waits for and returns the reply. */
export const client = (options: { readonly path: string; readonly localPath?: string; readonly message?: string }) =>
  Effect.gen(function* () {
    const socket = yield* UnixDatagram.connect({
      path: options.path,
      ...(options.localPath === undefined ? {} : { localPath: options.localPath }),
    })
    yield* socket.send(encode(options.message ?? "Hi there!\n"))
    if (options.localPath === undefined) return undefined
    const reply = yield* socket.receive().pipe(Effect.timeout("5 seconds"))
    return decode(reply)
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  const local = arg("local", "")
  runMain(
    Effect.tap(client({ path: arg("path", "/tmp/mysock"), ...(local === "" ? {} : { localPath: local }) }), (reply) =>
      Effect.sync(() => reply !== undefined && process.stdout.write(reply)),
    ),
  )
}
