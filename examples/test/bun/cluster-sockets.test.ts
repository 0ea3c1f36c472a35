import { assert, describe, it } from "@effect/vitest"
import { BunNetwork } from "@netfx/bun"
import * as Effect from "effect/Effect"
import { crossRunner } from "../cluster-sockets.ts"

describe("@netfx/cluster on BunNetwork", () => {
  it.live("two runners over loopback TCP: entities on both, reached across runners", () =>
    Effect.gen(function* () {
      const { answers, ports } = yield* crossRunner(BunNetwork.layer)
      assert.sameMembers(
        [...new Set(answers)],
        ports.map((p) => `127.0.0.1:${p}`),
      )
    }),
  )
})
