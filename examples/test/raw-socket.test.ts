import { assert, describe, it } from "@effect/vitest"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import { cancelledConnect, echo, passDescriptor } from "../src/raw-socket.ts"

describe("raw-socket example: Trio's low-level socket layer", () => {
  it.live("echo, isReadable, connect cancellation and descriptor passing", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* echo("hello, low level"), {
        reply: "hello, low level",
        readableBefore: false,
        readableAtEnd: true,
      })
      const cancelled = yield* cancelledConnect
      assert.isAtLeast(cancelled.waitedAfter, 0)
      assert.strictEqual(cancelled.thenSocket, "ClosedResource")
      assert.deepStrictEqual(yield* passDescriptor, { message: "here", contents: "sent as a descriptor" })
    }).pipe(Effect.provide(NodeNetwork.layer)),
  )
})
