import { assert, describe, it } from "@effect/vitest"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import { inMemory, overNetwork } from "../src/platform-socket.ts"

describe("platform-socket example: @effect/platform code over netfx", () => {
  it.live("over loopback TCP", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* overNetwork, "15")
    }).pipe(Effect.provide(NodeNetwork.layer)),
  )

  it.effect("over the memory network: a connect and a round trip at 25 ms latency take exactly 100 ms", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* inMemory, { reply: "13", millis: 100 })
    }),
  )
})
