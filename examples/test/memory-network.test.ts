import { assert, describe, it } from "@effect/vitest"
import { MemoryNetwork } from "@netfx/core"
import * as Effect from "effect/Effect"
import { demo } from "../src/demos/memory.ts"
import { handoffInMemory, handoffOnNode } from "../src/memory-network-handoff.ts"
import { latencyScenario, lossScenario, partitionScenario } from "../src/memory-network-testing.ts"

describe("MemoryNetwork example: testing a key-value service", () => {
  it.effect("latency: each request is exactly one connect plus one round trip", () =>
    Effect.gen(function* () {
      const { set, get } = yield* latencyScenario
      assert.deepStrictEqual(set, { value: "OK", millis: 200 })
      assert.deepStrictEqual(get, { value: "hello", millis: 200 })
    }),
  )

  it.effect("loss: right answers, exact and repeatable delays", () =>
    Effect.gen(function* () {
      const first = yield* lossScenario
      assert.deepStrictEqual(
        first.answers,
        Array.from({ length: 10 }, (_, i) => `v${i}`),
      )
      assert.deepStrictEqual(first.millis, [200, 200, 200, 400, 400, 200, 200, 200, 200, 200])
      assert.strictEqual(first.retransmissions, 5)
      assert.deepStrictEqual(yield* lossScenario, first)
    }),
  )

  it.effect("partition: the request times out after exactly 1 s, and works after heal", () =>
    Effect.gen(function* () {
      const result = yield* partitionScenario
      assert.deepStrictEqual(result, { during: { outcome: "TimeoutException", millis: 1000 }, after: "calm" })
    }),
  )

  it.effect("handoff: TCP connections passed to a worker, in memory: exact times, no descriptor left open", () =>
    Effect.gen(function* () {
      const result = yield* handoffInMemory
      assert.deepStrictEqual(result.replies, [
        { reply: "worker-1: HELLO", millis: 80 },
        { reply: "worker-1: HANDOFF", millis: 80 },
      ])
      assert.strictEqual(result.descriptorsAfter, result.descriptorsBefore)
    }),
  )

  it.live("handoff: the same code on real sockets", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* handoffOnNode, ["worker-1: HELLO", "worker-1: HANDOFF"])
    }),
  )

  // the demo brings its own TestContext and memory networks; the outer Network is not used
  it.live("the demo entry runs", () => demo.run.pipe(Effect.provide(MemoryNetwork.layer())))
})
