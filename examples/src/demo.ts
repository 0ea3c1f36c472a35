/**
 * `pnpm demo`: runs every example pair over loopback and prints what it does.
 * Each transport registers one entry in `demos` (see demos/Demo.ts).
 */
import * as Effect from "effect/Effect"
import { demo as asyncio } from "./demos/asyncio.ts"
import { demo as cluster } from "./demos/cluster.ts"
import type { Demo } from "./demos/Demo.ts"
import { demo as memory } from "./demos/memory.ts"
import { demo as platform } from "./demos/platform.ts"
import { demo as raw } from "./demos/raw.ts"
import { demo as resolve } from "./demos/resolve.ts"
import { demo as tcp } from "./demos/tcp.ts"
import { demo as tls } from "./demos/tls.ts"
import { demo as udp } from "./demos/udp.ts"
import { demo as unix } from "./demos/unix.ts"
import { isMain, NetworkLive } from "./runtime.ts"

/** Every demo, in the order `pnpm demo` runs them (also run under Bun by packages/bun/test/Examples.test.ts). */
export const demos: ReadonlyArray<Demo> = [tcp, tls, asyncio, udp, resolve, raw, unix, memory, platform, cluster]

const main = Effect.gen(function* () {
  let failed = 0
  for (const demo of demos) {
    console.log(`\n== ${demo.title}`)
    const result = yield* Effect.either(demo.run.pipe(Effect.timeout("30 seconds")))
    if (result._tag === "Left") {
      failed++
      console.log(`  FAILED: ${String(result.left)}`)
    }
  }
  console.log(`\n${demos.length - failed} of ${demos.length} demos ran`)
  if (failed > 0) process.exitCode = 1
})

if (isMain(import.meta.url)) {
  Effect.runPromise(Effect.provide(main, NetworkLive))
    .catch((e) => {
      console.error(e)
      process.exitCode = 1
    })
    // @effect/cluster 0.60 leaves some runner RPC clients (fibers parked in Effect.never, each
    // holding a timer) behind after its runners shut down, which would keep the process alive
    .finally(() => process.exit())
}
