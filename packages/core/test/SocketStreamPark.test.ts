import { assert, describe, it } from "@effect/vitest"
import { SocketStream } from "@netfx/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { handConnection } from "./support/handConnection.ts"

const within = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.timeoutFail(effect, { duration: "2 seconds", onTimeout: () => "the receive never woke up" })

describe("SocketStream receive park", () => {
  // A receive is an Effect whose `commit` looks at the stream and returns
  // either the bytes or the wait; Effect may yield between the two (every
  // `maxOpsBeforeYield` operations). The test makes that gap explicit: it
  // runs `commit` itself, then waits on a gate before running the wait.
  it.live(
    "a fiber that yields between looking and waiting gets its own stream's bytes, also those that came meanwhile",
    () =>
      Effect.gen(function* () {
        const c1 = handConnection()
        const c2 = handConnection()
        const s1 = SocketStream.make(c1.raw)
        const s2 = SocketStream.make(c2.raw)
        // looks (nothing buffered: the wait), then waits on a gate before waiting for bytes
        const lookThenWait = (s: SocketStream.SocketStream, gate: Deferred.Deferred<void>) =>
          Effect.suspend(() => {
            const wait = (s.receive() as unknown as { commit(): Effect.Effect<Uint8Array, unknown> }).commit()
            return Effect.zipRight(Deferred.await(gate), wait)
          })
        const gate1 = yield* Deferred.make<void>()
        const gate2 = yield* Deferred.make<void>()
        const a = yield* Effect.fork(lookThenWait(s1, gate1))
        yield* Effect.yieldNow()
        // another fiber looks at another stream meanwhile
        const b = yield* Effect.fork(lookThenWait(s2, gate2))
        yield* Effect.yieldNow()
        // s1's bytes arrive before its fiber waits; the first fiber waits first
        c1.deliver(new Uint8Array([1]))
        yield* Deferred.succeed(gate1, undefined)
        yield* Effect.yieldNow()
        yield* Deferred.succeed(gate2, undefined)
        yield* Effect.yieldNow()
        c2.deliver(new Uint8Array([2]))
        assert.deepStrictEqual(Array.from(yield* within(Fiber.join(a))), [1])
        assert.deepStrictEqual(Array.from(yield* within(Fiber.join(b))), [2])
        // both streams still work
        c1.deliver(new Uint8Array([3]))
        c2.deliver(new Uint8Array([4]))
        assert.deepStrictEqual(Array.from(yield* s1.receive()), [3])
        assert.deepStrictEqual(Array.from(yield* s2.receive()), [4])
      }),
  )
})
