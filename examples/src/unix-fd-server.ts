/**
 * AnyIO's file-descriptor server, in netfx: writes "Test file" to a file,
 * then sends every client that connects an open descriptor of it
 * (`sendFds`, SCM_RIGHTS). The connection is an fd-passing one
 * (`FdPassing.listen`): netfx reads it with recvmsg only, so no descriptor
 * can be lost to the runtime's own reads. Needs the `@netfx/native` addon.
 *
 *   tsx examples/src/unix-fd-server.ts --path /tmp/mysock --file /tmp/examplefile
 */
import * as fs from "node:fs"
import { FdPassing, type SocketAddress } from "@netfx/core"
import * as Effect from "effect/Effect"
import { arg, encode, isMain, runMain } from "./runtime.ts"

/** Sends `file`, opened for reading, to one client; closes our copy afterwards. */
export const handle = (file: string) => (client: FdPassing.FdStream) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.openSync(file, "r")),
    (fd) => client.sendFds(encode("this message is ignored"), [fd]),
    (fd) => Effect.sync(() => fs.closeSync(fd)),
  )

/** Writes the example file and serves it until interrupted. */
export const server = (options: {
  readonly path: string
  readonly file: string
  readonly onListening?: (address: SocketAddress.SocketAddress) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    fs.writeFileSync(options.file, "Test file")
    const listener = yield* FdPassing.listen({ path: options.path })
    if (options.onListening) yield* options.onListening(listener.address)
    return yield* listener.serve(handle(options.file))
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  const path = arg("path", "/tmp/mysock")
  runMain(
    server({
      path,
      file: arg("file", "/tmp/examplefile"),
      onListening: () => Effect.sync(() => console.log(`listening on ${path}`)),
    }),
  )
}
