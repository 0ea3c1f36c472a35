import * as Effect from "effect/Effect"
import * as TestContext from "effect/TestContext"
import { inMemory, overNetwork } from "../platform-socket.ts"
import type { Demo } from "./Demo.ts"

export const demo: Demo = {
  title: "@effect/platform Socket and SocketServer over netfx, on loopback and in memory (platform-socket.ts)",
  run: Effect.gen(function* () {
    console.log(`  loopback: the length service answered ${JSON.stringify(yield* overNetwork)} for "hello, platform"`)
    const memory = yield* inMemory.pipe(Effect.provide(TestContext.TestContext))
    console.log(
      `  memory, 25 ms latency: answered ${JSON.stringify(memory.reply)} for "hello, memory" in exactly ${memory.millis} ms of virtual time`,
    )
  }),
}
