import { assert, describe, it } from "@effect/vitest"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import { crossRunner } from "./cluster-sockets.ts"

describe("@netfx/cluster on NodeNetwork", () => {
  it.live("two runners over loopback TCP: entities on both, reached across runners", () =>
    Effect.gen(function* () {
      const { answers, ports } = yield* crossRunner(NodeNetwork.layer)
      assert.sameMembers(
        [...new Set(answers)],
        ports.map((p) => `127.0.0.1:${p}`),
      )
    }),
  )
})
