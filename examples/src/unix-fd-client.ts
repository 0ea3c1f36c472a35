/**
 * AnyIO's file-descriptor client, in netfx: connect, receive one
 * descriptor (`receiveFds`), read the file through it (Python's
 * `os.fdopen` is `FdPassing.toFileHandle`) and print its contents.
 *
 * AnyIO calls `receive_fds(0, 1)`; netfx asks for at least one message byte
 * (a zero-byte `recvmsg` on a stream socket cannot tell a message from end
 * of stream), so the message is read and ignored here.
 *
 *   tsx examples/src/unix-fd-client.ts --path /tmp/mysock
 */
import { FdPassing } from "@netfx/core"
import * as Effect from "effect/Effect"
import { arg, decode, isMain, runMain } from "./runtime.ts"

/** Receives one descriptor and returns the text of the file behind it. */
export const client = (options: { readonly path: string }) =>
  Effect.gen(function* () {
    const conn = yield* FdPassing.connect({ path: options.path })
    const { fds } = yield* conn.receiveFds(1024, 1)
    const received = fds[0]
    if (received === undefined) return yield* Effect.dieMessage("the server sent no descriptor")
    // take it out of the receive's Scope: the file handle owns it now
    const file = yield* FdPassing.toFileHandle(yield* received.take)
    return decode(yield* file.readAll)
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  runMain(
    Effect.tap(client({ path: arg("path", "/tmp/mysock") }), (contents) => Effect.sync(() => console.log(contents))),
  )
}
