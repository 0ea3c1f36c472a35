import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { reusableAsync } from "../src/internal/asyncPrimitive.ts"

describe("reusableAsync", () => {
  it("is Effect's own asynchronous primitive with this Effect version (not the Effect.async fallback)", () => {
    const effect = reusableAsync<number, never>((_resume) => {}) as unknown as { readonly _op: string }
    // a fallback would be Effect.async's commit wrapper: every wait would allocate again
    assert.strictEqual(effect._op, "Async")
  })

  it.effect("one instance parks and resumes any number of fibers, one after another and at once", () =>
    Effect.gen(function* () {
      const waiting: Array<(effect: Effect.Effect<number>) => void> = []
      const wait = reusableAsync<number, never>((resume) => {
        waiting.push(resume)
      })
      for (let i = 0; i < 3; i++) {
        const fiber = yield* Effect.fork(wait)
        yield* Effect.yieldNow()
        assert.strictEqual(waiting.length, 1)
        waiting.pop()?.(Effect.succeed(i))
        assert.strictEqual(yield* Fiber.join(fiber), i)
      }
      const a = yield* Effect.fork(wait)
      const b = yield* Effect.fork(wait)
      yield* Effect.yieldNow()
      assert.strictEqual(waiting.length, 2)
      waiting[1]?.(Effect.succeed(20))
      waiting[0]?.(Effect.succeed(10))
      assert.deepStrictEqual([yield* Fiber.join(a), yield* Fiber.join(b)], [10, 20])
    }),
  )

  it.effect("interruption ends the wait; a later resume is ignored", () =>
    Effect.gen(function* () {
      let resume: ((effect: Effect.Effect<number>) => void) | undefined
      const fiber = yield* Effect.fork(
        reusableAsync<number, never>((r) => {
          resume = r
        }),
      )
      yield* Effect.yieldNow()
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      resume?.(Effect.succeed(1))
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(fiber)))
    }),
  )
})
