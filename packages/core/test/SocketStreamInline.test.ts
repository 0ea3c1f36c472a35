import { assert, describe, it } from "@effect/vitest"
import { NetError, SocketStream } from "@netfx/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import { handConnection } from "./support/handConnection.ts"

/** A hand-fed connection that logs what is written. */
const recordingConnection = () => {
  const log: Array<string> = []
  const c = handConnection((data) => {
    log.push(`write ${Array.from(data).join(",")}`)
    return true
  })
  return { ...c, log }
}

// `yield* conn.send(...)` / `yield* conn.receive()` inside Effect.gen finish in
// the generator step when they can (internal/inlineYield.ts); these tests pin
// what that must not change.
describe("SocketStream yield* in Effect.gen", () => {
  it.effect("a send runs where it is yielded, in order, and not when it is only built", () =>
    Effect.gen(function* () {
      const c = recordingConnection()
      const s = SocketStream.make(c.raw)
      const built = s.send(new Uint8Array([9]))
      c.log.push("built")
      yield* Effect.sync(() => c.log.push("before"))
      yield* s.send(new Uint8Array([1, 2]))
      yield* Effect.sync(() => c.log.push("after"))
      yield* built
      assert.deepStrictEqual(c.log, ["built", "before", "write 1,2", "after", "write 9"])
    }),
  )

  it.effect("a receive with bytes buffered returns them; one that waits gets the next bytes", () =>
    Effect.gen(function* () {
      const c = recordingConnection()
      const s = SocketStream.make(c.raw)
      c.deliver(new Uint8Array([1, 2, 3]))
      assert.deepStrictEqual(Array.from(yield* s.receive(2)), [1, 2])
      assert.deepStrictEqual(Array.from(yield* s.receive(2)), [3])
      const waiting = yield* Effect.fork(
        Effect.gen(function* () {
          return yield* s.receive()
        }),
      )
      yield* Effect.yieldNow()
      c.deliver(new Uint8Array([4]))
      assert.deepStrictEqual(Array.from(yield* Fiber.join(waiting)), [4])
    }),
  )

  it.effect(
    "failures stay typed: EndOfStream after EOF, ClosedResource after close, BusyResource for a second receiver",
    () =>
      Effect.gen(function* () {
        const c = recordingConnection()
        const s = SocketStream.make(c.raw)
        const parked = yield* Effect.fork(
          Effect.gen(function* () {
            return yield* s.receive()
          }),
        )
        yield* Effect.yieldNow()
        const busy = yield* Effect.either(
          Effect.gen(function* () {
            return yield* s.receive()
          }),
        )
        assert.isTrue(Either.isLeft(busy) && busy.left instanceof NetError.BusyResource)
        c.end()
        const eof = yield* Effect.either(Fiber.join(parked))
        assert.isTrue(Either.isLeft(eof) && eof.left instanceof NetError.EndOfStream)
        const again = yield* Effect.either(
          Effect.gen(function* () {
            return yield* s.receive()
          }),
        )
        assert.isTrue(Either.isLeft(again) && again.left instanceof NetError.EndOfStream)
        yield* s.close
        const send = yield* Effect.either(
          Effect.gen(function* () {
            yield* s.send(new Uint8Array([1]))
          }),
        )
        assert.isTrue(Either.isLeft(send) && send.left instanceof NetError.ClosedResource)
        assert.deepStrictEqual(c.log, [])
      }),
  )

  it.effect("a fiber that only sends still yields to other fibers (maxOpsBeforeYield)", () =>
    Effect.gen(function* () {
      // counts writes without keeping a log line each
      let writes = 0
      const { raw } = handConnection(() => ++writes > 0)
      const s = SocketStream.make(raw)
      const total = 100_000
      const one = new Uint8Array([1])
      let seenAt: number | undefined
      // the sender starts first; the other fiber is scheduled after it
      const sender = yield* Effect.fork(
        Effect.gen(function* () {
          for (let i = 0; i < total; i++) yield* s.send(one)
        }),
      )
      const other = yield* Effect.fork(
        Effect.sync(() => {
          seenAt = writes
        }),
      )
      yield* Fiber.join(sender)
      yield* Fiber.join(other)
      assert.strictEqual(writes, total)
      // the other fiber ran while the sender was still sending
      assert.isDefined(seenAt)
      assert.isBelow(seenAt as number, total)
    }),
  )

  it("iterating a send by hand outside a fiber does not send", () => {
    const c = recordingConnection()
    const s = SocketStream.make(c.raw)
    const iterator = s.send(new Uint8Array([1]))[Symbol.iterator]()
    assert.isDefined(iterator)
    assert.deepStrictEqual(c.log, [])
  })
})
