import * as Effect from "effect/Effect"
import * as TestContext from "effect/TestContext"
import { handoffInMemory } from "../memory-network-handoff.ts"
import { latencyScenario, lossScenario, partitionScenario } from "../memory-network-testing.ts"
import type { Demo } from "./Demo.ts"

export const demo: Demo = {
  title: "MemoryNetwork: testing a key-value service under latency, loss and a partition (memory-network-testing.ts)",
  run: Effect.gen(function* () {
    const started = Date.now()
    const latency = yield* latencyScenario
    console.log(
      `  50 ms latency: SET took ${latency.set.millis} ms, GET took ${latency.get.millis} ms and answered ${JSON.stringify(latency.get.value)}`,
    )
    const loss = yield* lossScenario
    console.log(
      `  10% loss + 50 ms latency: request times ${loss.millis.join("/")} ms, ${loss.retransmissions} retransmissions, answers ${loss.answers.join(",")}`,
    )
    const partition = yield* partitionScenario
    console.log(
      `  partition: request ended with ${partition.during.outcome} after ${partition.during.millis} ms; after heal GET answered ${JSON.stringify(partition.after)}`,
    )
    const handoff = yield* handoffInMemory
    console.log(
      `  fd passing: TCP connections handed to a worker answered ${handoff.replies.map((r) => JSON.stringify(r.reply)).join(", ")}, ${handoff.replies[0]?.millis} ms each; descriptors ${handoff.descriptorsBefore} before, ${handoff.descriptorsAfter} after (memory-network-handoff.ts)`,
    )
    console.log(`  all in virtual time (TestClock): ${Date.now() - started} ms of real time`)
  }).pipe(Effect.provide(TestContext.TestContext)),
}
