/**
 * Trio's low-level `trio.socket` layer, in netfx (`RawSocket`): plain
 * sockets with the system calls as Effects.
 *
 * - a TCP echo with `socket()`, `bind`, `listen`, `accept`, `connect`,
 *   `send`/`receive` and `shutdown` — end of stream is `EndOfStream`;
 * - `isReadable` (Trio's `is_readable`) before and after the peer writes;
 * - connect cancellation: interrupting a connect that waits closes its
 *   socket (as Trio warns, a half-made connection cannot be taken back);
 * - `sendMsg`/`receiveMsg` passing a descriptor over a `socketpair`.
 *
 *   tsx examples/src/raw-socket.ts
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { RawSocket, SocketAddress } from "@netfx/core"
import * as Effect from "effect/Effect"
import { decode, encode, isMain, runMain } from "./runtime.ts"

/** Everything the peer sends until its end of stream, as text. */
const readAll = (socket: RawSocket.RawSocket) =>
  Effect.gen(function* () {
    let text = ""
    while (true) {
      const chunk = yield* Effect.catchTag(socket.receive(), "EndOfStream", () => Effect.succeed(undefined))
      if (chunk === undefined) return text
      text += decode(chunk)
    }
  })

/** A TCP echo on 127.0.0.1 with plain sockets; returns what came back and the readiness seen on the way. */
export const echo = (message: string) =>
  Effect.gen(function* () {
    const listener = yield* RawSocket.socket({ family: "ipv4", type: "stream" })
    yield* listener.setOption(RawSocket.constants.SOL_SOCKET, RawSocket.constants.SO_REUSEADDR, 1)
    yield* listener.bind(SocketAddress.ipv4("127.0.0.1", 0))
    yield* listener.listen()
    const client = yield* RawSocket.socket({ family: "ipv4", type: "stream" })
    yield* client.connect(yield* listener.localAddress)
    const { socket: server } = yield* listener.accept
    const readableBefore = yield* server.isReadable
    yield* client.send(encode(message))
    yield* client.shutdown("write")
    // the server reads to the end of stream, then echoes and closes its side
    const received = yield* readAll(server)
    const readableAtEnd = yield* server.isReadable // end of stream reads without blocking
    yield* server.send(encode(received))
    yield* server.shutdown("write")
    return { reply: yield* readAll(client), readableBefore, readableAtEnd }
  }).pipe(Effect.scoped)

/**
 * Connect cancellation: a Unix listener with a full backlog makes a
 * connect wait; a timeout interrupts it and the socket is closed.
 */
export const cancelledConnect = Effect.gen(function* () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "netfx-raw-"))
  const address = SocketAddress.unixPath(path.join(dir, "busy.sock"))
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
  const listener = yield* RawSocket.socket({ family: "unix", type: "stream" })
  yield* listener.bind(address)
  yield* listener.listen(1)
  for (let i = 0; i < 16; i++) {
    const socket = yield* RawSocket.socket({ family: "unix", type: "stream" })
    const outcome = yield* Effect.either(Effect.timeout(socket.connect(address), "200 millis"))
    if (outcome._tag === "Left" && outcome.left._tag === "TimeoutException") {
      const after = yield* Effect.flip(socket.send(encode("x")))
      return { waitedAfter: i, thenSocket: after._tag }
    }
  }
  return { waitedAfter: -1, thenSocket: "never waited" }
}).pipe(Effect.scoped)

/** A file descriptor through sendMsg/receiveMsg on a socketpair; returns the file's contents as read through it. */
export const passDescriptor = Effect.gen(function* () {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "netfx-raw-")), "note.txt")
  fs.writeFileSync(file, "sent as a descriptor")
  const [a, b] = yield* RawSocket.socketpair("stream")
  const fd = fs.openSync(file, "r")
  yield* a.sendMsg(encode("here"), [fd])
  fs.closeSync(fd)
  const message = yield* b.receiveMsg(64, 1)
  const received = message.fds[0] as number
  const contents = fs.readFileSync(received, "utf8")
  fs.closeSync(received)
  fs.rmSync(path.dirname(file), { recursive: true, force: true })
  return { message: decode(message.data), contents }
}).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  runMain(
    Effect.gen(function* () {
      console.log("echo:", JSON.stringify(yield* echo("hello, low level")))
      console.log("connect cancellation:", JSON.stringify(yield* cancelledConnect))
      console.log("sendMsg/receiveMsg:", JSON.stringify(yield* passDescriptor))
    }),
  )
}
