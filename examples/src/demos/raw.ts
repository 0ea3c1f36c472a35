import * as Effect from "effect/Effect"
import { cancelledConnect, echo, passDescriptor } from "../raw-socket.ts"
import type { Demo } from "./Demo.ts"

export const demo: Demo = {
  title: "Trio's low-level sockets: socket(), is_readable, connect cancellation, sendmsg/recvmsg (raw-socket.ts)",
  run: Effect.gen(function* () {
    const e = yield* echo("hello, low level")
    console.log(
      `  TCP echo with plain sockets: ${JSON.stringify(e.reply)}; isReadable before the peer wrote: ${e.readableBefore}, at end of stream: ${e.readableAtEnd}`,
    )
    const c = yield* cancelledConnect
    console.log(`  a connect to a full backlog waited; interrupted, its socket is then ${c.thenSocket}`)
    const p = yield* passDescriptor
    console.log(
      `  sendMsg/receiveMsg: message ${JSON.stringify(p.message)}, file read through the passed descriptor: ${JSON.stringify(p.contents)}`,
    )
  }),
}
