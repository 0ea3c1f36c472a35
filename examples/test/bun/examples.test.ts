import { assert, describe, it } from "@effect/vitest"
import { BunNetwork } from "@netfx/bun"
import * as Effect from "effect/Effect"
import { demos } from "../../src/demo.ts"

// Every example pair of `pnpm demo`, run under Bun on BunNetwork (packages/bun/vitest.config.ts includes this folder).
describe("examples on Bun", () => {
  it("there are demos", () => assert.isAbove(demos.length, 0))
  for (const demo of demos) {
    it.live(demo.title, () => demo.run.pipe(Effect.provide(BunNetwork.layer)))
  }
})
